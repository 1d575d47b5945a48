/**
 * The SFT job of trlSftJob.ts as a pipeline of our stages: load → template → tokenize → pack (one row
 * per example) → train. Apart from trlSftJob.ts because a pipeline file (bench/trl-sft.ts runs it with
 * the CLI) may import the engine only through src/index.ts.
 */
import { join } from "node:path"
import type { PipelineBuilder } from "../../src/index.ts"
import { load } from "../../stages/load.ts"
import { pack } from "../../stages/pack.ts"
import { template } from "../../stages/template.ts"
import { tokenize } from "../../stages/tokenize.ts"
import { train } from "../../stages/train.ts"

/** The hyper-parameters both sides train with (TRL's names in trl_sft.py). */
export const job = {
  rows: 256,
  perDeviceTrainBatchSize: 2,
  gradientAccumulationSteps: 2,
  learningRate: 1e-3,
  lrSchedulerType: "cosine",
  warmupSteps: 3,
  maxSteps: 30,
  /** The run seed: the train stage's seed, and so our order, follows from it. */
  seed: 1
} as const

/** The files of the job in `dir`: the data file and the model directory. */
export interface JobFiles {
  readonly data: string
  readonly model: string
}

/** Our pipeline for the job, training on `threads` threads. */
export const ourJob = (files: JobFiles, threads: number) => (p: PipelineBuilder): void => {
  const rows = p.add(load, { inputs: { train: p.file(files.data) }, config: { format: "prompt_completion" } })
  const model = p.dir(files.model)
  const rendered = p.add(template, { inputs: { conversations: rows.train, tokenizer: model } })
  const tokens = p.add(tokenize, { inputs: { rows: rendered.rendered, tokenizer: p.file(join(files.model, "tokenizer.json")) } })
  const packed = p.add(pack, { inputs: { tokens: tokens.tokens }, config: { maxSeqLength: 4096, packing: false } })
  p.add(train, {
    inputs: { train: packed.packed, model },
    config: {
      learningRate: job.learningRate,
      lrSchedulerType: job.lrSchedulerType,
      warmupSteps: job.warmupSteps,
      maxSteps: job.maxSteps,
      perDeviceTrainBatchSize: job.perDeviceTrainBatchSize,
      gradientAccumulationSteps: job.gradientAccumulationSteps,
      loggingSteps: 1,
      threads
    }
  })
}
