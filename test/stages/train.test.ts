/**
 * The train stage end to end on a small Qwen2 trained from scratch: the loss goes down, the same
 * seed gives the same bytes, gradient accumulation changes nothing but summation order, a run
 * interrupted after a checkpoint and resumed from it ends with the exact bytes of an
 * uninterrupted run, and the kept checkpoints rotate as transformers' do without losing the best.
 */
import { Effect, Option, Schema } from "effect"
import { createHash } from "node:crypto"
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs"
import type { Dirent } from "node:fs"
import { tmpdir } from "node:os"
import { join, relative } from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import { readHfConfig } from "../../native/hfConfig.ts"
import { backendUnavailable } from "../../native/index.ts"
import { kernelBuildDigest } from "../../native/kernels.ts"
import { initWeights } from "../../native/init.ts"
import { readSafetensors } from "../../native/safetensors.ts"
import { StageFailure } from "../../src/index.ts"
import type { Checkpoints, FilesRef } from "../../src/index.ts"
import { packDocuments, toPackedTable } from "../../stages/pack.ts"
import { tableReader } from "./runStages.ts"
import type { Document } from "../../stages/pack.ts"
import { evaluate, EvaluateConfig } from "../../stages/evaluate.ts"
import { selectBest, SelectBestConfig } from "../../stages/selectBest.ts"
import { lossVerdict, train, TrainConfig } from "../../stages/train.ts"
import { rotate } from "../../stages/train/hfCheckpoint.ts"
import { describeOracle, runOracle } from "../support/oracle.ts"

const modelDir = join(import.meta.dirname, "fixtures", "train-model")
const scratch = mkdtempSync(join(tmpdir(), "train-test-"))
afterAll(() => rmSync(scratch, { recursive: true, force: true }))

// 24 documents of 5–40 tokens from a fixed LCG; the first third of each is an untrained prompt.
const documents: Array<Document> = (() => {
  let state = 12345
  const next = (n: number) => (state = (Math.imul(state, 1103515245) + 12345) >>> 0) % n
  return Array.from({ length: 24 }, (_, d) => {
    const length = 5 + next(36)
    const ids = Int32Array.from({ length }, (_, t) => t % 3 === 0 ? 1 + (d % 7) : next(96))
    const labels = ids.map((id, t) => (t < length / 3 ? -100 : id))
    return { inputIds: ids, labels, source: `synthetic:${d}` }
  })
})()
const packed = toPackedTable(
  Effect.runSync(packDocuments(documents, { maxSeqLength: 64, packing: true, dataSeed: 1 }, 1)).columns
)
/** The packed table as the stage reads its train input. */
const packedReader = await tableReader(packed)

/** Checkpoints kept in memory (copied, as the store does); `stopAfter` fails the stage right after that save. */
const memoryCheckpoints = (saved: Map<number, string>, stopAfter?: number): Checkpoints => ({
  save: (step, dir) =>
    Effect.suspend(() => {
      const copy = join(scratch, `saved-${step}-${saved.size}-${Math.random().toString(36).slice(2)}`)
      cpSync(dir, copy, { recursive: true })
      saved.set(step, copy)
      return step === stopAfter ? Effect.fail(new StageFailure({ stage: "train", message: "interrupted" })) : Effect.void
    }),
  latest: () =>
    Effect.sync(() => {
      const steps = [...saved.keys()].sort((a, b) => b - a)
      return steps.length === 0 ? Option.none() : Option.some({ step: steps[0]!, dir: saved.get(steps[0]!)! })
    })
})

const trainConfig = (config: Record<string, unknown>) =>
  Schema.decodeUnknownSync(TrainConfig)({ fromScratch: true, learningRate: 3e-3, numTrainEpochs: 4, perDeviceTrainBatchSize: 2, weightDecay: 0.1, warmupRatio: 0.2, ...config })

const run = (config: Record<string, unknown>, checkpoints: Checkpoints, log: (line: string) => void = () => undefined) =>
  Effect.runPromise(Effect.scoped(train.run({
    config: trainConfig(config),
    inputs: { train: packedReader, validation: packed, model: { dir: modelDir, files: [] } },
    seed: 7,
    tmpDir: mkdtempSync(join(scratch, "run-")),
    progress: () => undefined,
    log,
    scalars: () => undefined,
    sanity: false,
    workers: 1,
    batchSize: 10_000,
    checkpoints
  })))

/** A directory output as the next stage's input sees it (digests as the engine computes them). */
const filesRef = (dir: string): FilesRef => ({
  dir,
  files: Object.entries(filesOf(dir)).map(([path, digest]) => ({ path, digest, size: statSync(join(dir, path)).size }))
})

/** A run context for calling a stage's `run` directly. */
const stageContext = <C, I>(config: C, inputs: I) => ({
  config,
  inputs,
  seed: 7,
  tmpDir: mkdtempSync(join(scratch, "stage-")),
  progress: () => undefined,
  log: () => undefined,
  scalars: () => undefined,
  sanity: false,
  workers: 1,
  batchSize: 10_000,
  checkpoints: memoryCheckpoints(new Map())
})

const weightsOf = (dir: string) => readFileSync(join(dir, "model.safetensors"))
/** Every file under `dir` by relative path, with the sha256 of its bytes. */
const filesOf = (dir: string): Record<string, string> =>
  Object.fromEntries(
    (readdirSync(dir, { recursive: true, withFileTypes: true }) as Array<Dirent>)
      .filter((entry) => entry.isFile())
      .map((entry) => {
        const file = join(entry.parentPath, entry.name)
        return [relative(dir, file), createHash("sha256").update(readFileSync(file)).digest("hex")]
      })
      .sort(([a], [b]) => a!.localeCompare(b!))
  )
const historyOf = (result: Awaited<ReturnType<typeof run>>) => result.outputs.history.toArray().map((row) => row.toJSON())

describe("train stage", () => {
  it("lowers the loss, is deterministic, and resumes from a checkpoint bit for bit", async () => {
    const straight = await run({ evalSteps: 4 }, memoryCheckpoints(new Map()))
    const history = historyOf(straight)
    expect(history.length).toBe(packed.numRows / 2 * 4)
    expect(history.at(-1)!.loss).toBeLessThan(history[0]!.loss * 0.9)
    expect(history.filter((row) => row.eval_loss !== null).length).toBe(history.length / 4)
    expect(straight.metrics?.steps).toBe(history.length)

    const again = await run({ evalSteps: 4 }, memoryCheckpoints(new Map()))
    expect(historyOf(again)).toEqual(history)
    expect(weightsOf(again.outputs.model.dir).equals(weightsOf(straight.outputs.model.dir))).toBe(true)

    // Only the last step is saved by default (saveSteps 500), as the Trainer does at the end.
    expect(readdirSync(straight.outputs.checkpoints.dir)).toEqual([`checkpoint-${history.length}`])

    const saving = { evalSteps: 4, saveSteps: 3 }
    const uninterrupted = await run(saving, memoryCheckpoints(new Map()))
    const saved = new Map<number, string>()
    await expect(run(saving, memoryCheckpoints(saved, 6))).rejects.toThrow(/interrupted/)
    expect([...saved.keys()]).toEqual([3, 6])
    const resumed = await run(saving, memoryCheckpoints(saved))
    expect(historyOf(resumed)).toEqual(history)
    expect(weightsOf(resumed.outputs.model.dir).equals(weightsOf(straight.outputs.model.dir))).toBe(true)
    // The checkpoints written before the interruption come back with the resumed state.
    expect(Object.keys(filesOf(uninterrupted.outputs.checkpoints.dir))).toContain("checkpoint-3/model.safetensors")
    expect(filesOf(resumed.outputs.checkpoints.dir)).toEqual(filesOf(uninterrupted.outputs.checkpoints.dir))

    const view = await Effect.runPromise(Effect.scoped(train.inspect!({
      config: Schema.decodeUnknownSync(TrainConfig)({}),
      inputs: { train: packedReader, validation: packed, model: { dir: modelDir, files: [] } },
      outputs: {
        history: straight.outputs.history,
        model: { dir: straight.outputs.model.dir, files: [] },
        checkpoints: { dir: straight.outputs.checkpoints.dir, files: [] }
      },
      rows: 2,
      color: false
    })))
    const lines = view.split("\n")
    expect(lines[0]).toMatch(/step +epoch +loss +lr +grad_norm/)
    expect(lines[1]!.trim().split(/ +/)[2]).toBe(history[0]!.loss.toFixed(4))
    expect(lines[3]).toContain(`${history.length - 3} steps`)
    expect(lines[4]!.trim().startsWith(String(history.length))).toBe(true)
    expect(lines[5]).toMatch(/^PASS loss \d+\.\d+ → \d+\.\d+ over \d+ steps: decreasing$/)
    expect(lossVerdict([2, 2.1, 2.2])).toMatch(/^WARN loss 2\.0000 → 2\.1000 over 3 steps: not decreasing; check the learning rate/)

    // The export is a loadable model directory with the trained weights, not the initial ones.
    const tensors = await Effect.runPromise(readSafetensors(join(straight.outputs.model.dir, "model.safetensors")))
    expect(Object.keys(tensors)).toContain("lm_head.weight")
    const hf = await Effect.runPromise(readHfConfig(modelDir))
    const initial = initWeights(hf.config, { seed: 7, initializerRange: Number(hf.json.initializer_range) })
    expect(Object.keys(tensors).sort()).toEqual(Object.keys(initial).sort())
    for (const [name, tensor] of Object.entries(tensors)) {
      expect(tensor.data.length, name).toBe(initial[name]!.length)
      expect(tensor.data.some((value, i) => value !== initial[name]![i]), `${name} was trained`).toBe(true)
    }
    expect(JSON.parse(readFileSync(join(straight.outputs.model.dir, "config.json"), "utf8")).architectures).toEqual(["Qwen2ForCausalLM"])
  })

  it("accumulating gradients over micro-batches matches one larger batch up to summation order", async () => {
    const large = historyOf(await run({ perDeviceTrainBatchSize: 4, gradientAccumulationSteps: 1 }, memoryCheckpoints(new Map())))
    const accumulated = historyOf(await run({ perDeviceTrainBatchSize: 2, gradientAccumulationSteps: 2 }, memoryCheckpoints(new Map())))
    // Row order is the same (one shuffle per epoch), so step k sees the same rows either way.
    expect(accumulated.length).toBe(large.length)
    accumulated.forEach((row, k) => {
      expect(row.trained_tokens).toBe(large[k]!.trained_tokens)
      expect(Math.abs(row.loss - large[k]!.loss) / large[k]!.loss).toBeLessThan(1e-4)
    })
  })
})

describeOracle("checkpoint rotation", () => {
  it("keeps what transformers' rotate_checkpoints keeps", () => {
    const cases = [
      { steps: [2, 4, 6, 8], limit: 2, best: 2 },
      { steps: [2, 4, 6, 8], limit: 2, best: 8 },
      { steps: [2, 4, 6, 8], limit: 2, best: null },
      { steps: [2, 4, 6, 8], limit: 1, best: 4 },
      { steps: [0, 5, 10], limit: 3, best: 0 },
      { steps: [10, 5, 0, 15], limit: 1, best: null },
      { steps: [3], limit: 1, best: 3 },
      { steps: [1, 2, 3], limit: null, best: 1 }
    ]
    const theirs = JSON.parse(runOracle(join(import.meta.dirname, "oracle", "rotate_checkpoints.py"), [], JSON.stringify({ cases }))) as Array<Array<number>>
    cases.forEach((c, i) => {
      const removed = new Set(rotate(c.steps, c.limit ?? undefined, c.best ?? undefined))
      expect(c.steps.filter((step) => !removed.has(step)).sort((a, b) => a - b), JSON.stringify(c)).toEqual(theirs[i])
    })
  })
})

describe("kept checkpoints", () => {
  const state = (dir: string, step: number) => JSON.parse(readFileSync(join(dir, `checkpoint-${step}`, "trainer_state.json"), "utf8"))

  it("keep the best even when it is the oldest, and loadBestModelAtEnd makes it the model", async () => {
    // With greaterIsBetter the highest validation loss is best: the untrained checkpoint-0.
    const config = { maxSteps: 8, evalSteps: 2, saveSteps: 2, saveTotalLimit: 2, evalOnStart: true, loadBestModelAtEnd: true }
    const worst = await run({ ...config, greaterIsBetter: true }, memoryCheckpoints(new Map()))
    const dir = worst.outputs.checkpoints.dir
    expect(readdirSync(dir).sort()).toEqual(["checkpoint-0", "checkpoint-8"])
    expect(worst.metrics).toMatchObject({ bestCheckpoint: "checkpoint-0" })
    expect(state(dir, 8)).toMatchObject({ global_step: 8, max_steps: 8, best_global_step: 0, best_model_checkpoint: "checkpoint-0" })
    expect(weightsOf(worst.outputs.model.dir).equals(weightsOf(join(dir, "checkpoint-0")))).toBe(true)
    const hf = await Effect.runPromise(readHfConfig(modelDir))
    const initial = initWeights(hf.config, { seed: 7, initializerRange: Number(hf.json.initializer_range) })
    const zero = await Effect.runPromise(readSafetensors(join(dir, "checkpoint-0", "model.safetensors")))
    expect(zero["lm_head.weight"]!.data).toEqual(initial["lm_head.weight"])

    // evaluate scores the kept checkpoints and select-best, asked the same question, picks the oldest.
    const scored = await Effect.runPromise(Effect.scoped(evaluate.run({
      ...stageContext(Schema.decodeUnknownSync(EvaluateConfig)({}), { checkpoints: filesRef(dir), validation: packed, prompts: undefined, tokenizer: undefined })
    })))
    const picked = await Effect.runPromise(Effect.scoped(selectBest.run({
      ...stageContext(Schema.decodeUnknownSync(SelectBestConfig)({ greaterIsBetter: true }), { metrics: scored.outputs.metrics, checkpoints: filesRef(dir) })
    })))
    expect(scored.outputs.metrics.toArray().map((row) => row.checkpoint)).toEqual(["checkpoint-0", "checkpoint-8"])
    expect(picked.metrics).toMatchObject({ checkpoint: "checkpoint-0" })
    expect(weightsOf(picked.outputs.model.dir).equals(weightsOf(join(dir, "checkpoint-0")))).toBe(true)

    // The usual direction: the lowest validation loss, here the last step's.
    const best = await run(config, memoryCheckpoints(new Map()))
    const evals = historyOf(best).filter((row) => row.eval_loss !== null)
    const lowest = evals.reduce((a, b) => (b.eval_loss! < a.eval_loss! ? b : a))
    expect(best.metrics).toMatchObject({ bestCheckpoint: `checkpoint-${lowest.step}`, bestMetric: lowest.eval_loss })
    expect(readdirSync(best.outputs.checkpoints.dir)).toContain(`checkpoint-${lowest.step}`)
    expect(weightsOf(best.outputs.model.dir).equals(weightsOf(join(best.outputs.checkpoints.dir, `checkpoint-${lowest.step}`)))).toBe(true)
    const history = state(best.outputs.checkpoints.dir, 8).log_history as Array<Record<string, number>>
    expect(history.filter((entry) => "eval_loss" in entry).map((entry) => entry.step)).toEqual([2, 4, 6, 8])
  })

  it("refuses loadBestModelAtEnd when some checkpoints would not be scored", async () => {
    await expect(run({ maxSteps: 4, evalSteps: 3, saveSteps: 2, loadBestModelAtEnd: true }, memoryCheckpoints(new Map())))
      .rejects.toThrow(/saveSteps \(2\) to be a multiple of evalSteps \(3\)/)
  })
})

describe("backend", () => {
  const cudaMissing = backendUnavailable("cuda")

  it("auto trains on cpu where cuda cannot run, says why, and keys and writes exactly what cpu does", async () => {
    if (cudaMissing === undefined) return
    const lines: Array<string> = []
    const auto = await run({ maxSteps: 2, backend: "auto" }, memoryCheckpoints(new Map()), (line) => lines.push(line))
    const cpu = await run({ maxSteps: 2, backend: "cpu" }, memoryCheckpoints(new Map()))
    expect(lines).toContain(`backend auto: training on cpu; ${cudaMissing}`)
    expect(filesOf(auto.outputs.model.dir)).toEqual(filesOf(cpu.outputs.model.dir))
    expect(train.env!(trainConfig({ backend: "auto", bf16: true }))).toEqual(train.env!(trainConfig({ backend: "cpu" })))
  })

  it("cuda where it cannot run fails with the reason", async () => {
    if (cudaMissing === undefined) return
    await expect(run({ maxSteps: 1, backend: "cuda" }, memoryCheckpoints(new Map()))).rejects.toThrow(cudaMissing)
  })

  it("a cuda run's key holds the backend, the dtype and the kernel build", () => {
    const env = train.env!(trainConfig({ backend: "cuda", bf16: true }))
    expect(env).toMatchObject({ backend: "cuda", dtype: "bfloat16", kernels: kernelBuildDigest() })
    expect(train.env!(trainConfig({ backend: "cuda" }))).toMatchObject({ dtype: "float32" })
    expect(train.env!(trainConfig({ backend: "cpu" }))).not.toHaveProperty("kernels")
  })

  it("bf16 on the cpu backend is refused", async () => {
    await expect(run({ maxSteps: 1, backend: "cpu", bf16: true }, memoryCheckpoints(new Map())))
      .rejects.toThrow("bf16 mixed precision runs on the cuda backend")
  })
})
