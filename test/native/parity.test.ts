/**
 * The native engine against transformers (the oracle), on the fixture models and on models the
 * oracle generates to cover every supported variant. The batch packs several documents (one of a
 * single token) with -100 labels; the reference runs each document on its own, so equal logits,
 * loss and gradients also prove attention never crosses a document boundary.
 */
import { fixtures as shared } from "../support/fixtures.ts"
import { Effect } from "effect"
import { mkdirSync, mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { afterAll, beforeAll, expect, it } from "vitest"
import { loadHfModel } from "../../native/hfConfig.ts"
import type { HfModelConfig } from "../../native/hfConfig.ts"
import { exportHfModel } from "../../native/hfExport.ts"
import { initWeights } from "../../native/init.ts"
import { NativeModel } from "../../native/index.ts"
import type { AdamWOptions, Batch, Weights } from "../../native/index.ts"
import { describeOracle, runOracle } from "../support/oracle.ts"
import { maxAbsDiff, relL2 } from "./compare.ts"

const script = fileURLToPath(new URL("./oracle/parity_ref.py", import.meta.url))
const fixtures = `${shared}/models`

const small = { vocab_size: 97, hidden_size: 36, intermediate_size: 52, num_hidden_layers: 2, max_position_embeddings: 128 }
// Variants the acceptance list names: q/k norm (with head_dim 12 > hidden/heads 9), Llama 3 rope
// scaling, GQA ratios 1/2/4, tied and untied, odd sizes (vocab 97, hidden 36 with head_dim 18, FFN 52).
const generated: Record<string, { config: Record<string, unknown>; seed: number; bf16Shards?: string }> = {
  "qwen3-qknorm": {
    seed: 11,
    bf16Shards: "40KB",
    config: { ...small, model_type: "qwen3", num_attention_heads: 4, num_key_value_heads: 2, head_dim: 12, rope_theta: 1e6, tie_word_embeddings: false }
  },
  "llama3-rope-tied": {
    seed: 12,
    config: {
      ...small, model_type: "llama", num_attention_heads: 2, num_key_value_heads: 1, tie_word_embeddings: true, rms_norm_eps: 1e-5,
      rope_parameters: { rope_type: "llama3", rope_theta: 500000, factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 64 }
    }
  },
  "llama-gqa1-odd": {
    seed: 13,
    config: { ...small, model_type: "llama", num_attention_heads: 2, num_key_value_heads: 2, rope_theta: 10000 }
  },
  "mistral-gqa4": {
    seed: 14,
    config: { ...small, model_type: "mistral", hidden_size: 64, num_attention_heads: 8, num_key_value_heads: 2, sliding_window: null, rope_theta: 1e6 }
  },
  "qwen2-gqa4-untied": {
    seed: 15,
    config: { ...small, model_type: "qwen2", hidden_size: 48, num_attention_heads: 4, num_key_value_heads: 1, tie_word_embeddings: false, rope_theta: 1e6 }
  }
}

interface Doc { readonly ids: ReadonlyArray<number>; readonly labels: ReadonlyArray<number> }

// Documents of 9, 1, 14 and 6 tokens. Every document's first label is -100 (as the pack stage
// guarantees) so the shifted loss never scores one document's last position against the next
// document; doc 2 also masks a prompt, doc 3 its tail.
const makeDocs = (vocab: number): ReadonlyArray<Doc> => {
  let state = 12345
  const next = () => (state = (Math.imul(state, 1103515245) + 12345) >>> 0) % vocab
  const doc = (n: number, masked: (i: number) => boolean): Doc => {
    const ids = Array.from({ length: n }, next)
    return { ids, labels: ids.map((id, i) => (i === 0 || masked(i) ? -100 : id)) }
  }
  return [doc(9, () => false), doc(1, () => false), doc(14, (i) => i < 6), doc(6, (i) => i >= 4)]
}

const pack = (docs: ReadonlyArray<Doc>): Batch => {
  const ids: Array<number> = [], labels: Array<number> = [], positions: Array<number> = [], cu = [0]
  for (const d of docs) {
    ids.push(...d.ids)
    labels.push(...d.labels)
    positions.push(...d.ids.map((_, i) => i))
    cu.push(ids.length)
  }
  return { inputIds: Int32Array.from(ids), labels: Int32Array.from(labels), positionIds: Int32Array.from(positions), cuSeqlens: Int32Array.from(cu) }
}

const adam: AdamWOptions = { lr: 0, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1, maxGradNorm: 1.0 }
// A decaying schedule, passed per step as the train stage does.
const lrs = Array.from({ length: 10 }, (_, i) => 3e-3 * (1 - i / 20))
const microBatches = [[0, 1], [2, 3]]
// Greedy generation: 12 new tokens after this prompt unless token 2 comes first.
const prompt = [1, 17, 42, 66, 5]
const stop = [2]
// A next token whose logit leads the runner-up by less than this is a tie rounding may break either way.
const tieGap = 1e-4

interface Reference {
  readonly logits: Array<number>
  readonly loss_sum: number
  readonly tokens: number
  readonly grads: Record<string, Array<number>>
  readonly generated: Array<number>
  readonly gaps: Array<number>
  readonly grad_norms: Array<number>
  readonly weights: Record<string, Array<number>>
  readonly noise_floor: Record<string, number>
}

const worst = (ours: Weights, ref: Record<string, Array<number>>): { name: string; value: number } => {
  expect(Object.keys(ours).sort()).toEqual(Object.keys(ref).sort())
  return Object.keys(ref).map((name) => ({ name, value: relL2(ours[name]!, ref[name]!) }))
    .reduce((a, b) => (b.value > a.value ? b : a))
}

/** Positions t whose label t+1 is scored and is the argmax of logits row t (the first on ties). */
const exactlyPredicted = (logits: Float32Array, labels: Int32Array): number => {
  const vocab = logits.length / labels.length
  let correct = 0
  for (let t = 0; t + 1 < labels.length; t++) {
    if (labels[t + 1] === -100) continue
    const row = logits.subarray(t * vocab, (t + 1) * vocab)
    if (row.indexOf(Math.max(...row)) === labels[t + 1]) correct++
  }
  return correct
}

describeOracle("native engine parity with transformers", () => {
  let root: string
  const dirs: Record<string, string> = {
    "tiny-random-llama": join(fixtures, "tiny-random-llama"),
    "tiny-random-qwen2": join(fixtures, "tiny-random-qwen2")
  }
  const models: Record<string, HfModelConfig & { weights: Weights }> = {}
  const docs: Record<string, ReadonlyArray<Doc>> = {}
  let reference: Record<string, Reference>

  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), "parity-"))
    const specs = Object.fromEntries(Object.entries(generated).map(([n, g]) => [n, { config: g.config, seed: g.seed, bf16_shards: g.bf16Shards }]))
    runOracle(script, ["make", root], JSON.stringify(specs))
    for (const name of Object.keys(generated)) dirs[name] = join(root, name)
    for (const [name, dir] of Object.entries(dirs)) {
      models[name] = await Effect.runPromise(loadHfModel(dir))
      docs[name] = makeDocs(models[name].config.vocabSize)
    }
    // One oracle process for all models (torch's import dominates). Docs differ per vocab, so one request per vocab size.
    reference = {}
    const byVocab = new Map<number, Array<string>>()
    for (const [name, m] of Object.entries(models)) byVocab.set(m.config.vocabSize, [...(byVocab.get(m.config.vocabSize) ?? []), name])
    for (const names of byVocab.values()) {
      const request = {
        models: Object.fromEntries(names.map((n) => [n, dirs[n]])),
        docs: docs[names[0]!],
        micro_batches: microBatches,
        lrs,
        prompt,
        max_new_tokens: 12,
        stop,
        adam: { beta1: adam.beta1, beta2: adam.beta2, eps: adam.eps, weight_decay: adam.weightDecay, max_grad_norm: adam.maxGradNorm }
      }
      Object.assign(reference, JSON.parse(runOracle(script, ["run"], JSON.stringify(request))) as Record<string, Reference>)
    }
  }, 600_000)
  afterAll(() => {
    if (root !== undefined) rmSync(root, { recursive: true, force: true })
  })

  const names = ["tiny-random-llama", "tiny-random-qwen2", ...Object.keys(generated)]

  for (const name of names) {
    it(`${name}: logits, loss, every gradient on a packed batch, and greedy generation`, async () => {
      const ref = reference[name]!
      const model = NativeModel.create(models[name]!.config, models[name]!.weights, { threads: 1 })
      const batch = pack(docs[name]!)
      const logits = await model.logits(batch)
      const logitsDiff = maxAbsDiff(logits, ref.logits)
      const { lossSum, tokens } = await model.accumulate(batch)
      const lossRel = Math.abs(lossSum - ref.loss_sum) / Math.abs(ref.loss_sum)
      const grad = worst(model.gradients(), ref.grads)
      // evaluation runs the same forward pass and loss, without gradients, and counts the scored
      // tokens that are the argmax of those (transformers-checked) logits
      expect(await model.evalLoss(batch)).toEqual({ lossSum, tokens, correct: exactlyPredicted(logits, batch.labels) })
      const generated = Array.from(await model.generate(Int32Array.from(prompt), { maxNewTokens: 12, temperature: 0, topP: 1, stopTokens: stop, seed: 0 }))
      // compared up to the first near-tie, where either token is right
      const tie = ref.gaps.findIndex((g) => g < tieGap)
      const compared = tie === -1 ? ref.generated.length : tie
      console.log(`${name}: generated ${generated.join(" ")}, transformers ${ref.generated.join(" ")}, smallest lead ${Math.min(...ref.gaps).toExponential(2)}`)
      expect(compared).toBeGreaterThanOrEqual(4)
      expect(generated.slice(0, compared)).toEqual(ref.generated.slice(0, compared))
      if (tie === -1) expect(generated.length).toBe(ref.generated.length)
      console.log(`${name}: logits max|diff| ${logitsDiff.toExponential(2)}, loss rel ${lossRel.toExponential(2)}, worst grad rel L2 ${grad.value.toExponential(2)} (${grad.name})`)
      expect(tokens).toBe(ref.tokens)
      expect(logitsDiff).toBeLessThanOrEqual(1e-4)
      expect(lossRel).toBeLessThanOrEqual(1e-5)
      expect(grad.value, grad.name).toBeLessThanOrEqual(1e-4)
    })
  }

  // Our trained models' logits on their docs, and where we exported them, for the final check.
  const exported: Record<string, { dir: string; docs: ReadonlyArray<Doc>; logits: Float32Array }> = {}

  for (const name of names) {
    it(`${name}: 10 AdamW steps with clipping, weight decay and gradient accumulation`, async () => {
      const ref = reference[name]!
      const model = NativeModel.create(models[name]!.config, models[name]!.weights, { threads: 1 })
      const d = docs[name]!
      const gradNorms: Array<number> = []
      for (const lr of lrs) {
        let stepTokens = 0
        for (const mb of microBatches) stepTokens += (await model.accumulate(pack(mb.map((i) => d[i]!)))).tokens
        gradNorms.push((await model.step(stepTokens, { ...adam, lr })).gradNorm)
      }
      // Clipping must have been exercised at least once for the comparison to cover it.
      expect(Math.max(...ref.grad_norms)).toBeGreaterThan(adam.maxGradNorm)
      gradNorms.forEach((n, i) => expect(Math.abs(n - ref.grad_norms[i]!) / ref.grad_norms[i]!, `grad norm of step ${i + 1}`).toBeLessThanOrEqual(1e-4))
      const ours = model.weights()
      expect(Object.keys(ours).sort()).toEqual(Object.keys(ref.weights).sort())
      for (const [param, expected] of Object.entries(ref.weights)) {
        const diff = relL2(ours[param]!, expected)
        // 1e-4, unless transformers' own two attention implementations end further apart than that:
        // then within twice that noise floor. k_proj biases get 1e-3: a key bias shifts every score
        // of a query by the same amount (softmax cancels it) except for the part RoPE rotates, which
        // for low frequencies and short documents is tiny, so their gradients are small differences
        // of large terms and Adam's normalisation turns rounding into update noise. Measured:
        // transformers eager vs sdpa end 1.1e-2 apart on the Qwen2 fixture's layer-0 k_proj.bias.
        // Their step-0 gradients are still held to 1e-4 above. That noise depends on the CPU's
        // rounding, so they get four times transformers' own spread: on an AMD EPYC (AVX2) ours
        // ended 1.17e-2 from eager while eager and sdpa ended 3.99e-3 apart (2.9x).
        const floor = ref.noise_floor[param]!
        const keyBias = param.endsWith("k_proj.bias")
        if (floor > 5e-5 || keyBias) console.log(`${name}: ${param} rel L2 ${diff.toExponential(2)}; transformers eager vs sdpa ${floor.toExponential(2)}`)
        expect(diff, param).toBeLessThanOrEqual(keyBias ? Math.max(1e-3, 4 * floor) : Math.max(1e-4, 2 * floor))
      }
      const w = worst(ours, ref.weights)
      console.log(`${name}: after 10 steps worst weight rel L2 ${w.value.toExponential(2)} (${w.name})`)

      const dir = join(root, "exported", name)
      mkdirSync(dir, { recursive: true })
      await Effect.runPromise(exportHfModel(dir, models[name]!, ours))
      exported[name] = { dir, docs: d, logits: await model.logits(pack(d)) }
    })
  }

  it("a from-scratch model (initWeights) exports and loads in transformers", async () => {
    const source = models["llama3-rope-tied"]!
    const weights = initWeights(source.config, { seed: 7, initializerRange: 0.02 })
    const again = initWeights(source.config, { seed: 7, initializerRange: 0.02 })
    const other = initWeights(source.config, { seed: 8, initializerRange: 0.02 })
    const embed = weights["model.embed_tokens.weight"]!
    expect(again["model.embed_tokens.weight"]).toEqual(embed)
    expect(other["model.embed_tokens.weight"]).not.toEqual(embed)
    const mean = embed.reduce((a, b) => a + b, 0) / embed.length
    const std = Math.sqrt(embed.reduce((a, b) => a + (b - mean) ** 2, 0) / embed.length)
    expect(Math.abs(mean)).toBeLessThan(0.002)
    expect(Math.abs(std - 0.02)).toBeLessThan(0.001)
    expect(weights["model.norm.weight"]!.every((x) => x === 1)).toBe(true)
    expect(weights["lm_head.weight"]).toBeUndefined()
    const model = NativeModel.create(source.config, weights, { threads: 1 })
    const dir = join(root, "exported", "from-scratch")
    mkdirSync(dir, { recursive: true })
    await Effect.runPromise(exportHfModel(dir, source, weights))
    const d = docs["llama3-rope-tied"]!
    exported["from-scratch"] = { dir, docs: d, logits: await model.logits(pack(d)) }
  })

  it("a bf16 sharded checkpoint written by transformers loads with transformers' logits", async () => {
    const dir = join(root, "qwen3-qknorm-bf16-sharded")
    const model = await Effect.runPromise(loadHfModel(dir))
    const d = docs["qwen3-qknorm"]!
    const ours = await NativeModel.create(model.config, model.weights, { threads: 1 }).logits(pack(d))
    const theirs = JSON.parse(runOracle(script, ["logits"], JSON.stringify({ sharded: { dir, docs: d } }))) as Record<string, Array<number>>
    const diff = maxAbsDiff(ours, theirs["sharded"]!)
    console.log(`qwen3-qknorm bf16, sharded: logits max|diff| ${diff.toExponential(2)}`)
    expect(diff).toBeLessThanOrEqual(1e-4)
  })

  it("every exported model gives the same logits in transformers", () => {
    expect(Object.keys(exported).sort()).toEqual([...names, "from-scratch"].sort())
    const request = Object.fromEntries(Object.entries(exported).map(([name, e]) => [name, { dir: e.dir, docs: e.docs }]))
    const theirs = JSON.parse(runOracle(script, ["logits"], JSON.stringify(request))) as Record<string, Array<number>>
    for (const [name, e] of Object.entries(exported)) {
      const diff = maxAbsDiff(e.logits, theirs[name]!)
      console.log(`${name}: exported model's logits in transformers max|diff| ${diff.toExponential(2)}`)
      expect(diff, name).toBeLessThanOrEqual(1e-4)
    }
  })
})
