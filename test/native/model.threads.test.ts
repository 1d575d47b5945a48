/**
 * Determinism across thread counts: the same steps give bit-identical weights with 1, 2 and 3
 * threads (kernels partition over outputs and keep fixed reduction orders).
 */
import { join } from "node:path"
import { expect, test } from "vitest"
import { NativeModel } from "../../native/index.ts"
import type { AdamWOptions } from "../../native/index.ts"
import { fixtureModels, loadModel, makeDocs, pack, sameBits, scoredTokens } from "./modelCases.ts"

const adamw: AdamWOptions = { lr: 1e-3, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1, maxGradNorm: 1.0 }

test("weights after 5 steps are bit-identical for 1, 2 and 3 threads", async () => {
  const dir = join(fixtureModels, "tiny-random-llama")
  const { config, weights } = await loadModel(dir)
  const docs = makeDocs(config.vocabSize, [9, 6, 11, 7], 5)
  const microbatches = [pack(docs.slice(0, 2)), pack(docs.slice(2))]
  const after = async (threads: number) => {
    const model = NativeModel.create(config, weights, { threads })
    for (let s = 0; s < 5; s++) {
      for (const mb of microbatches) await model.accumulate(mb)
      await model.step(scoredTokens(docs), adamw)
    }
    return model.weights()
  }
  const one = await after(1)
  const two = await after(2)
  const three = await after(3)
  expect(sameBits(one, two)).toBe(true)
  expect(sameBits(one, three)).toBe(true)
  expect(sameBits(one, weights)).toBe(false)
})
