/**
 * Training behaviour of the native model that needs no reference numbers: exact resume,
 * recomputation, non-finite detection, seeded sampling and stop tokens.
 * (Numerical parity with transformers is parity.test.ts, thread counts model.threads.test.ts.)
 */
import { join } from "node:path"
import { beforeAll, describe, expect, test } from "vitest"
import { NativeModel, NativeModelError } from "../../native/index.ts"
import type { AdamWOptions, ModelConfig, ModelOptions, Weights } from "../../native/index.ts"
import { fixtureModels, loadModel, makeDocs, pack, sameBits, scoredTokens } from "./modelCases.ts"

const dir = join(fixtureModels, "tiny-random-qwen2")
const adamw: AdamWOptions = { lr: 1e-3, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1, maxGradNorm: 1.0 }

let config: ModelConfig
let weights: Weights
const docs = makeDocs(512, [9, 6, 11, 7], 3)
const microbatches = [pack(docs.slice(0, 2)), pack(docs.slice(2))]
const tokens = scoredTokens(docs)

const train = async (model: NativeModel, steps: number): Promise<void> => {
  for (let s = 0; s < steps; s++) {
    for (const mb of microbatches) await model.accumulate(mb)
    await model.step(tokens, adamw)
  }
}

const trained = async (steps: number, options: ModelOptions): Promise<NativeModel> => {
  const model = NativeModel.create(config, weights, options)
  await train(model, steps)
  return model
}

describe("native model training", () => {
  beforeAll(async () => {
    const model = await loadModel(dir)
    config = model.config
    weights = model.weights
  })

  test("10 steps, save, restore, 10 more equals 20 straight, bit for bit", async () => {
    const straight = await trained(20, { threads: 2 })
    const first = await trained(10, { threads: 2 })
    const state = first.saveState()
    expect(state.step).toBe(10)
    const resumed = NativeModel.restore(config, state, { threads: 2 })
    await train(resumed, 10)
    expect(resumed.stepCount).toBe(20)
    const a = straight.saveState()
    const b = resumed.saveState()
    expect(sameBits(a.weights, b.weights)).toBe(true)
    expect(sameBits(a.m, b.m)).toBe(true)
    expect(sameBits(a.v, b.v)).toBe(true)
    // and training did move the weights
    expect(sameBits(a.weights, weights)).toBe(false)
  })

  test("recomputing activations gives the same loss, gradients and weights", async () => {
    const plain = NativeModel.create(config, weights, { threads: 2 })
    const recompute = NativeModel.create(config, weights, { threads: 2, recompute: true })
    const a = await plain.accumulate(microbatches[0]!)
    const b = await recompute.accumulate(microbatches[0]!)
    expect(b).toEqual(a)
    expect(sameBits(plain.gradients(), recompute.gradients())).toBe(true)
    await plain.step(a.tokens, adamw)
    await recompute.step(b.tokens, adamw)
    await train(plain, 3)
    await train(recompute, 3)
    expect(sameBits(plain.weights(), recompute.weights())).toBe(true)
    // generation fills its KV cache from the same forward pass
    const prompt = Int32Array.from(docs[0]!.ids)
    const opts = { maxNewTokens: 6, temperature: 0, topP: 1, stopTokens: [], seed: 0 }
    expect(Array.from(await recompute.generate(prompt, opts))).toEqual(Array.from(await plain.generate(prompt, opts)))
  })

  test("a larger micro-batch after a smaller one grows the activations and matches a fresh model", async () => {
    const grown = NativeModel.create(config, weights, { threads: 2 })
    await grown.evalLoss(pack(docs.slice(0, 1)))
    const big = pack(docs)
    const fresh = NativeModel.create(config, weights, { threads: 2 })
    expect(await grown.evalLoss(big)).toEqual(await fresh.evalLoss(big))
  })

  test("calls made without awaiting run one after another", async () => {
    const model = NativeModel.create(config, weights, { threads: 2 })
    const [a, b, c] = await Promise.all([model.evalLoss(microbatches[0]!), model.accumulate(microbatches[0]!), model.evalLoss(microbatches[0]!)])
    expect(b).toEqual({ lossSum: a.lossSum, tokens: a.tokens })
    expect(c).toEqual(a)
  })

  test("a non-finite loss rejects with the step", async () => {
    const poisoned = { ...weights, "model.norm.weight": weights["model.norm.weight"]!.map((x, i) => (i === 0 ? NaN : x)) }
    const model = NativeModel.create(config, poisoned, { threads: 2 })
    await expect(model.accumulate(microbatches[0]!)).rejects.toThrow(/^step 1: the loss is not finite/)
    await expect(model.accumulate(microbatches[0]!)).rejects.toBeInstanceOf(NativeModelError)
  })

  test("a non-finite gradient norm rejects with the step and leaves the weights alone", async () => {
    const model = await trained(2, { threads: 2 })
    const before = model.weights()
    await model.accumulate(microbatches[0]!)
    // 1 / 1e-40 overflows fp32, so the scaled gradients are infinite
    await expect(model.step(1e-40, adamw)).rejects.toThrow(/^step 3: the gradient norm is not finite/)
    expect(sameBits(model.weights(), before)).toBe(true)
    expect(model.stepCount).toBe(2)
  })

  test("bad batches are refused with what is wrong", async () => {
    const model = NativeModel.create(config, weights, { threads: 1 })
    const batch = microbatches[0]!
    const outside = { ...batch, inputIds: batch.inputIds.map((x, i) => (i === 2 ? 512 : x)) }
    await expect(model.accumulate(outside)).rejects.toThrow(/inputIds\[2\] = 512 is outside the vocabulary/)
    const crossing = { ...batch, cuSeqlens: Int32Array.from([0, batch.inputIds.length + 1]) }
    await expect(model.accumulate(crossing)).rejects.toThrow(/cuSeqlens must end at the number of tokens/)
    expect(() => NativeModel.create(config, { ...weights, extra: new Float32Array(1) })).toThrow(/unexpected tensors extra/)
    // the fixture is tied: a separate lm_head is not a parameter (loadHfModel drops a stored one)
    expect(config.tieWordEmbeddings).toBe(true)
    expect(() => NativeModel.create(config, { ...weights, "lm_head.weight": weights["model.embed_tokens.weight"]! }))
      .toThrow(/unexpected tensors lm_head.weight/)
    const { ["model.norm.weight"]: _, ...missing } = weights
    expect(() => NativeModel.create(config, missing)).toThrow(/missing tensor model.norm.weight \[64\]/)
  })

  test("sampling is reproducible from its seed, and stop tokens end generation", async () => {
    const model = NativeModel.create(config, weights, { threads: 2 })
    const prompt = Int32Array.from([1, 17, 42, 99, 5])
    const sample = (seed: number) => model.generate(prompt, { maxNewTokens: 16, temperature: 1.5, topP: 0.95, stopTokens: [], seed })
    const a = await sample(1)
    expect(Array.from(await sample(1))).toEqual(Array.from(a))
    const others = [await sample(2), await sample(3), await sample(4)]
    expect(others.some((o) => o.join() !== a.join())).toBe(true)
    const greedy = await model.generate(prompt, { maxNewTokens: 8, temperature: 0, topP: 1, stopTokens: [], seed: 0 })
    expect(greedy.length).toBe(8)
    const stopped = await model.generate(prompt, { maxNewTokens: 8, temperature: 0, topP: 1, stopTokens: [greedy[2]!], seed: 0 })
    expect(Array.from(stopped)).toEqual(Array.from(greedy.subarray(0, greedy.indexOf(greedy[2]!) + 1)))
  })
})
