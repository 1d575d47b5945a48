/**
 * One sha256 over everything the engine computes in a fixed short run: per-step losses and
 * gradient norms, the gradients of the last micro-batch, the weights and Adam moments after the
 * run, evaluation sums, logits and greedy and sampled generations, for four model shapes (tied,
 * untied, QKV bias, q/k norm) with and without recomputation.
 *
 * A refactor of native/ that must not change a bit prints the same line before and after;
 * SFT_NATIVE_ADDON compares another build of the same sources (say, the scalar one).
 *
 *   npx tsx scripts/engine-fingerprint.ts
 */
import { createHash } from "node:crypto"
import { NativeModel } from "../native/index.ts"
import type { Batch, ModelConfig, Weights } from "../native/index.ts"

interface Shape {
  readonly name: string
  readonly tied: boolean
  readonly qkvBias: boolean
  readonly qkNorm: boolean
}

const shapes: ReadonlyArray<Shape> = [
  { name: "llama-tied", tied: true, qkvBias: false, qkNorm: false },
  { name: "llama", tied: false, qkvBias: false, qkNorm: false },
  { name: "qwen2", tied: false, qkvBias: true, qkNorm: false },
  { name: "qwen3", tied: true, qkvBias: false, qkNorm: true }
]

// Odd sizes on purpose: partial GEMM tiles and SIMD tails are exercised.
const configOf = (s: Shape): ModelConfig => {
  const headDim = 12
  return {
    vocabSize: 101,
    hiddenSize: 40,
    intermediateSize: 70,
    numLayers: 2,
    numHeads: 4,
    numKvHeads: 2,
    headDim,
    rmsNormEps: 1e-6,
    tieWordEmbeddings: s.tied,
    qkvBias: s.qkvBias,
    qkNorm: s.qkNorm,
    invFreq: Float32Array.from({ length: headDim / 2 }, (_, i) => 10000 ** ((-2 * i) / headDim)),
    ropeAttentionScaling: 1
  }
}

const lcg = (seed: number) => {
  let state = seed >>> 0
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0
    return state
  }
}

// Every parameter by HF name (see Weights in native/index.ts), seeded; norm weights near 1.
const weightsOf = (c: ModelConfig, seed: number): Weights => {
  const next = lcg(seed)
  const C = c.hiddenSize, F = c.intermediateSize, QD = c.numHeads * c.headDim, KD = c.numKvHeads * c.headDim
  const shapes: Array<[string, number]> = [["model.embed_tokens.weight", c.vocabSize * C]]
  for (let l = 0; l < c.numLayers; l++) {
    const p = `model.layers.${l}.`
    shapes.push([p + "input_layernorm.weight", C], [p + "post_attention_layernorm.weight", C])
    shapes.push([p + "self_attn.q_proj.weight", QD * C], [p + "self_attn.k_proj.weight", KD * C])
    shapes.push([p + "self_attn.v_proj.weight", KD * C], [p + "self_attn.o_proj.weight", C * QD])
    if (c.qkvBias) shapes.push([p + "self_attn.q_proj.bias", QD], [p + "self_attn.k_proj.bias", KD], [p + "self_attn.v_proj.bias", KD])
    if (c.qkNorm) shapes.push([p + "self_attn.q_norm.weight", c.headDim], [p + "self_attn.k_norm.weight", c.headDim])
    shapes.push([p + "mlp.gate_proj.weight", F * C], [p + "mlp.up_proj.weight", F * C], [p + "mlp.down_proj.weight", C * F])
  }
  shapes.push(["model.norm.weight", C])
  if (!c.tieWordEmbeddings) shapes.push(["lm_head.weight", c.vocabSize * C])
  const out: Weights = {}
  for (const [name, n] of shapes)
    out[name] = Float32Array.from({ length: n }, () =>
      name.endsWith("norm.weight") ? 1 + ((next() % 1000) - 500) / 5000 : ((next() % 1000) - 500) / 2500
    )
  return out
}

const batchOf = (vocab: number, lengths: ReadonlyArray<number>, seed: number): Batch => {
  const next = lcg(seed)
  const ids: Array<number> = [], labels: Array<number> = [], pos: Array<number> = [], cu = [0]
  for (const length of lengths) {
    for (let i = 0; i < length; i++) {
      const id = next() % vocab
      ids.push(id)
      labels.push(i < 3 ? -100 : id)
      pos.push(i)
    }
    cu.push(ids.length)
  }
  return {
    inputIds: Int32Array.from(ids),
    labels: Int32Array.from(labels),
    positionIds: Int32Array.from(pos),
    cuSeqlens: Int32Array.from(cu)
  }
}

const hash = createHash("sha256")
const addFloats = (x: Float32Array | Float64Array) => hash.update(Buffer.from(x.buffer, x.byteOffset, x.byteLength))
const addWeights = (w: Weights) => {
  for (const name of Object.keys(w).sort()) {
    hash.update(name)
    addFloats(w[name]!)
  }
}

const adamw = { lr: 3e-3, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1, maxGradNorm: 1.0 }

const run = async (shape: Shape, recompute: boolean) => {
  const config = configOf(shape)
  const model = NativeModel.create(config, weightsOf(config, 7), { threads: 2, recompute })
  const microbatches = [batchOf(config.vocabSize, [9, 17, 6], 11), batchOf(config.vocabSize, [23, 5], 12)]
  for (let step = 0; step < 4; step++) {
    let tokens = 0
    for (const mb of microbatches) {
      const sum = await model.accumulate(mb)
      tokens += sum.tokens
      addFloats(Float64Array.of(sum.lossSum, sum.tokens))
    }
    if (step === 3) addWeights(model.gradients())
    addFloats(Float64Array.of((await model.step(tokens, adamw)).gradNorm))
  }
  const state = model.saveState()
  addWeights(state.weights)
  addWeights(state.m)
  addWeights(state.v)
  const evalSum = await model.evalLoss(microbatches[1]!)
  addFloats(Float64Array.of(evalSum.lossSum, evalSum.tokens, evalSum.correct))
  addFloats(await model.logits(microbatches[0]!))
  const prompt = microbatches[0]!.inputIds.slice(0, 7)
  const greedy = await model.generate(prompt, { maxNewTokens: 12, temperature: 0, topP: 1, stopTokens: [], seed: 0 })
  const sampled = await model.generate(prompt, { maxNewTokens: 12, temperature: 0.8, topP: 0.9, stopTokens: [], seed: 5 })
  hash.update(Buffer.from(greedy.buffer)).update(Buffer.from(sampled.buffer))
}

for (const shape of shapes) for (const recompute of [false, true]) await run(shape, recompute)
console.log(`engine fingerprint: ${hash.digest("hex")}`)
