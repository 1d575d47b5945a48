/**
 * The native model against transformers: logits, loss and every gradient on a packed batch of three
 * documents (the reference runs each document alone, so any attention across documents shows),
 * 10 AdamW steps with clipping and weight decay against torch.optim.AdamW, and greedy generation.
 */
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, beforeAll, expect, test } from "vitest"
import { NativeModel } from "../../native/index.ts"
import type { AdamWOptions, ModelConfig, Weights } from "../../native/index.ts"
import { describeOracle, runOracle } from "../support/oracle.ts"
import { fixtureModels, loadConfig, loadWeights, makeDocs, maxAbsDiff, pack, relL2, scoredTokens } from "./modelCases.ts"
import type { Doc } from "./modelCases.ts"

const script = join(import.meta.dirname, "oracle", "model_reference.py")

interface Reference {
  readonly inv_freq: ReadonlyArray<number>
  readonly attention_scaling: number
  readonly logits: ReadonlyArray<ReadonlyArray<number>>
  readonly loss_sums: ReadonlyArray<number>
  readonly grads: Record<string, ReadonlyArray<number>>
  readonly generated: ReadonlyArray<number>
  readonly grad_norms: ReadonlyArray<number>
  readonly weights_after: Record<string, ReadonlyArray<number>>
}

// lr and eps keep the comparison well conditioned: Adam's first steps are nearly sign(g), so an
// element whose gradient is at rounding-noise level moves by ±lr on either side at random.
const adamw: AdamWOptions = { lr: 1e-3, beta1: 0.9, beta2: 0.95, eps: 1e-6, weightDecay: 0.1, maxGradNorm: 1.0 }
// With RoPE, a k bias shifts all scores of a query almost uniformly in the slowly rotating dims,
// which softmax ignores: those elements' gradients are near zero, and Adam turns their rounding
// noise into ±lr updates on both sides. Their gradients are still compared above.
const illConditioned = (name: string) => name.endsWith("k_proj.bias")
const steps = 10
// Two micro-batches per step: documents 0 and 1 packed together, then document 2.
const microbatches = [[0, 1], [2]]
const prompt = [1, 17, 42, 99, 5]

let qwen3Dir: string

const cases: ReadonlyArray<{ name: string; dir: () => string }> = [
  { name: "tiny-random-llama (untied)", dir: () => join(fixtureModels, "tiny-random-llama") },
  { name: "tiny-random-qwen2 (qkv bias, tied)", dir: () => join(fixtureModels, "tiny-random-qwen2") },
  { name: "qwen3 (q/k norm, GQA 4:1, head_dim 16 > hidden/heads)", dir: () => qwen3Dir }
]

describeOracle("native model parity with transformers", () => {
  beforeAll(() => {
    qwen3Dir = mkdtempSync(join(tmpdir(), "sft-qwen3-"))
    runOracle(script, ["make-qwen3", qwen3Dir])
  })
  afterAll(() => rmSync(qwen3Dir, { recursive: true, force: true }))

  for (const c of cases) {
    test(c.name, async () => {
      const dir = c.dir()
      const probe = loadConfig(dir)
      const docs: Array<Doc> = makeDocs(probe.vocabSize, [9, 6, 11], 7)
      const ref = JSON.parse(
        runOracle(
          script,
          ["reference"],
          JSON.stringify({
            model_dir: dir, docs, microbatches, steps, prompt, max_new_tokens: 12, stop: [2],
            adamw: { lr: adamw.lr, beta1: adamw.beta1, beta2: adamw.beta2, eps: adamw.eps,
              weight_decay: adamw.weightDecay, max_grad_norm: adamw.maxGradNorm }
          })
        )
      ) as Reference
      const config: ModelConfig = loadConfig(dir, Float32Array.from(ref.inv_freq), ref.attention_scaling)
      const weights: Weights = await loadWeights(dir)
      const batch = pack(docs)
      const model = NativeModel.create(config, weights, { threads: 2 })

      // logits of the packed row against each document alone
      const logits = await model.logits(batch)
      const V = config.vocabSize
      let logitsDiff = 0
      let offset = 0
      for (const [i, d] of docs.entries()) {
        logitsDiff = Math.max(logitsDiff, maxAbsDiff(logits.subarray(offset * V, (offset + d.ids.length) * V), ref.logits[i]!))
        offset += d.ids.length
      }

      // loss and gradients of the summed loss
      const refLoss = ref.loss_sums.reduce((a, b) => a + b, 0)
      const { lossSum, tokens } = await model.accumulate(batch)
      const evaluated = await model.evalLoss(batch)
      const grads = model.gradients()
      expect(Object.keys(grads).sort()).toEqual(Object.keys(ref.grads).sort())
      let gradDiff = 0
      let worst = ""
      for (const [name, g] of Object.entries(grads)) {
        const r = relL2(g, ref.grads[name]!)
        if (r > gradDiff) [gradDiff, worst] = [r, name]
      }

      // generation
      const generated = await model.generate(Int32Array.from(prompt), {
        maxNewTokens: 12, temperature: 0, topP: 1, stopTokens: [2], seed: 0
      })

      // training: a fresh model, the same micro-batches and optimizer
      const trained = NativeModel.create(config, weights, { threads: 2 })
      const norms: Array<number> = []
      for (let s = 0; s < steps; s++) {
        for (const mb of microbatches) await trained.accumulate(pack(mb.map((i) => docs[i]!)))
        norms.push((await trained.step(scoredTokens(docs), adamw)).gradNorm)
      }
      const after = trained.weights()
      let weightDiff = 0
      for (const [name, w] of Object.entries(after)) {
        if (!illConditioned(name)) weightDiff = Math.max(weightDiff, relL2(w, ref.weights_after[name]!))
      }
      const normDiff = Math.max(...norms.map((n, i) => Math.abs(n - ref.grad_norms[i]!) / ref.grad_norms[i]!))

      console.log(
        `${c.name}: logits max|diff| ${logitsDiff.toExponential(2)}, loss rel ${(Math.abs(lossSum - refLoss) / refLoss).toExponential(2)}, ` +
          `worst grad rel L2 ${gradDiff.toExponential(2)} (${worst}), grad norms rel ${normDiff.toExponential(2)}, ` +
          `weights after ${steps} AdamW steps rel L2 ${weightDiff.toExponential(2)}, generated ${generated.join(" ")}`
      )
      expect(tokens).toBe(scoredTokens(docs))
      expect(logitsDiff).toBeLessThanOrEqual(1e-4)
      expect(Math.abs(lossSum - refLoss) / refLoss).toBeLessThanOrEqual(1e-5)
      expect(evaluated.lossSum).toBe(lossSum)
      expect(gradDiff).toBeLessThanOrEqual(1e-4)
      // clipping must have been exercised for the comparison to cover it
      expect(Math.max(...ref.grad_norms)).toBeGreaterThan(adamw.maxGradNorm)
      expect(normDiff).toBeLessThanOrEqual(1e-4)
      expect(weightDiff).toBeLessThanOrEqual(1e-4)
      expect(Array.from(generated)).toEqual(ref.generated)
    })
  }
})
