/**
 * The train stage end to end on a small Qwen2 trained from scratch: the loss goes down, the same
 * seed gives the same bytes, gradient accumulation changes nothing but summation order, and a run
 * interrupted after a checkpoint and resumed from it ends with the exact bytes of an
 * uninterrupted run.
 */
import { Effect, Option, Schema } from "effect"
import { cpSync, mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import { readHfConfig } from "../../native/hfConfig.ts"
import { initWeights } from "../../native/init.ts"
import { readSafetensors } from "../../native/safetensors.ts"
import { StageFailure } from "../../src/index.ts"
import type { Checkpoints } from "../../src/index.ts"
import { packDocuments, toPackedTable } from "../../stages/pack.ts"
import type { Document } from "../../stages/pack.ts"
import { train, TrainConfig } from "../../stages/train.ts"

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

const run = (config: Record<string, unknown>, checkpoints: Checkpoints) =>
  Effect.runPromise(Effect.scoped(train.run({
    config: Schema.decodeUnknownSync(TrainConfig)({ fromScratch: true, learningRate: 3e-3, numTrainEpochs: 4, perDeviceTrainBatchSize: 2, weightDecay: 0.1, warmupRatio: 0.2, ...config }),
    inputs: { train: packed, validation: packed, model: { dir: modelDir, files: [] } },
    seed: 7,
    tmpDir: mkdtempSync(join(scratch, "run-")),
    progress: () => undefined,
    log: () => undefined,
    scalars: () => undefined,
    sanity: false,
    checkpoints
  })))

const weightsOf = (dir: string) => readFileSync(join(dir, "model.safetensors"))
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

    const saved = new Map<number, string>()
    await expect(run({ evalSteps: 4, saveSteps: 3 }, memoryCheckpoints(saved, 6))).rejects.toThrow(/interrupted/)
    expect([...saved.keys()]).toEqual([3, 6])
    const resumed = await run({ evalSteps: 4, saveSteps: 3 }, memoryCheckpoints(saved))
    expect(historyOf(resumed)).toEqual(history)
    expect(weightsOf(resumed.outputs.model.dir).equals(weightsOf(straight.outputs.model.dir))).toBe(true)

    const view = await Effect.runPromise(Effect.scoped(train.inspect!({
      config: Schema.decodeUnknownSync(TrainConfig)({}),
      inputs: { train: packed, validation: packed, model: { dir: modelDir, files: [] } },
      outputs: { history: straight.outputs.history, model: { dir: straight.outputs.model.dir, files: [] } },
      rows: 2,
      color: false
    })))
    const lines = view.split("\n")
    expect(lines[0]).toMatch(/step +epoch +loss +lr +grad_norm/)
    expect(lines[1]!.trim().split(/ +/)[2]).toBe(history[0]!.loss.toFixed(4))
    expect(lines[3]).toContain(`${history.length - 3} steps`)
    expect(lines[4]!.trim().startsWith(String(history.length))).toBe(true)

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
