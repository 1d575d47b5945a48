/**
 * One supervised fine-tuning job, run by us and by TRL's SFTTrainer (oracle/trl_sft.py): the first
 * 256 GSM8K train rows as conversational prompt/completion rows, the real Qwen3 tokenizer and chat
 * template, a tiny random Qwen3 made by transformers, 30 optimizer steps of 2 rows × 2 accumulated
 * micro-batches with a cosine schedule after 3 warm-up steps, no packing, float32 on one thread.
 * test/stages/sft_trl.test.ts compares the two, bench/trl-sft.ts times them.
 *
 * Both sides see the same rows in the same order: ours is the train stage's plan (`planSteps`,
 * seeded with the train stage's seed, which the run seed gives through `stageSeed`) over the packed
 * rows, which with `packing: false` are the data rows in file order; TRL gets that plan's row
 * indexes, trains on its prepared dataset reordered by them, and reads it with a sequential sampler
 * in micro-batches of the same size, so micro-batch k holds the same rows on both sides.
 */
import { readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { stageSeed } from "../../src/runner/Seed.ts"
import { planSteps } from "../../stages/train/batches.ts"
import { fixtures } from "../support/fixtures.ts"
import { runOracle } from "../support/oracle.ts"
import type { JobFiles } from "./trlSftPipeline.ts"
import { job } from "./trlSftPipeline.ts"

const script = join(import.meta.dirname, "oracle", "trl_sft.py")

/** Writes the data (GSM8K's question as the user prompt, its answer as the assistant completion) and the model. */
export const prepareJob = (dir: string): JobFiles => {
  const data = join(dir, "gsm8k_prompt_completion.jsonl")
  const lines = readFileSync(join(fixtures, "datasets", "gsm8k", "train.jsonl"), "utf8").split("\n").slice(0, job.rows)
  writeFileSync(
    data,
    lines.map((line) => {
      const row = JSON.parse(line) as { question: string; answer: string }
      return JSON.stringify({ prompt: [{ role: "user", content: row.question }], completion: [{ role: "assistant", content: row.answer }] })
    }).join("\n") + "\n"
  )
  const model = join(dir, "model")
  runOracle(script, ["model", model])
  return { data, model }
}

/** Our train stage's steps (instance "train" of a run with `job.seed`): each step's micro-batches of data rows. */
export const ourPlan = () =>
  planSteps(job.rows, {
    epochs: 1, // maxSteps decides
    maxSteps: job.maxSteps,
    batchSize: job.perDeviceTrainBatchSize,
    accumulation: job.gradientAccumulationSteps,
    seed: stageSeed(job.seed, "train")
  })

/** The data rows our train stage trains on, in its order. */
export const ourOrder = (): Array<number> => ourPlan().flat(2)

/** What TRL made of the job. */
export interface TrlResult {
  /** Per data row, TRL's tokens and labels (−100 off the completion). */
  readonly input_ids: Array<Array<number>>
  readonly labels: Array<Array<number>>
  /** The training loss of each optimizer step, and TRL's running count of input tokens after it. */
  readonly losses: Array<number>
  readonly num_tokens: Array<number>
  /** Wall time of the whole script: Python start-up, imports, tokenization, training. */
  readonly seconds: number
}

/** Runs the job in TRL on `order`, in `dir` (its output_dir). */
export const runTrl = (files: JobFiles, dir: string, order: ReadonlyArray<number>, threads: number): TrlResult => {
  const input = JSON.stringify({
    model: files.model,
    data: files.data,
    order,
    output_dir: join(dir, "trl"),
    per_device_train_batch_size: job.perDeviceTrainBatchSize,
    gradient_accumulation_steps: job.gradientAccumulationSteps,
    learning_rate: job.learningRate,
    lr_scheduler_type: job.lrSchedulerType,
    warmup_steps: job.warmupSteps,
    max_steps: job.maxSteps,
    threads
  })
  return JSON.parse(runOracle(script, ["train"], input)) as TrlResult
}
