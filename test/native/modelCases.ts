/**
 * Shared inputs of the native model tests: the tiny fixture models, a packed batch of documents and
 * the difference measures the tolerances are stated in.
 */
import { fixtures } from "../support/fixtures.ts"
import { Effect } from "effect"
import { readFileSync } from "node:fs"
import { join } from "node:path"
import type { Batch, ModelConfig, Weights } from "../../native/index.ts"
import { loadHfModel } from "../../native/hfConfig.ts"

export const fixtureModels = join(fixtures, "models")

interface HfConfig {
  readonly model_type: string
  readonly vocab_size: number
  readonly hidden_size: number
  readonly intermediate_size: number
  readonly num_hidden_layers: number
  readonly num_attention_heads: number
  readonly num_key_value_heads: number
  readonly head_dim?: number
  readonly rms_norm_eps: number
  readonly tie_word_embeddings: boolean
  readonly rope_parameters?: { readonly rope_theta: number }
  readonly rope_theta?: number
}

/**
 * The engine config of a model directory with default RoPE. invFreq is computed here unless the
 * caller has the oracle's (parity tests pass the model's own buffer).
 */
export const loadConfig = (dir: string, invFreq?: Float32Array, attentionScaling = 1): ModelConfig => {
  const hf = JSON.parse(readFileSync(join(dir, "config.json"), "utf8")) as HfConfig
  const headDim = hf.head_dim ?? hf.hidden_size / hf.num_attention_heads
  const theta = hf.rope_parameters?.rope_theta ?? hf.rope_theta ?? 10000
  return {
    vocabSize: hf.vocab_size,
    hiddenSize: hf.hidden_size,
    intermediateSize: hf.intermediate_size,
    numLayers: hf.num_hidden_layers,
    numHeads: hf.num_attention_heads,
    numKvHeads: hf.num_key_value_heads,
    headDim,
    rmsNormEps: hf.rms_norm_eps,
    tieWordEmbeddings: hf.tie_word_embeddings,
    qkvBias: hf.model_type === "qwen2",
    qkNorm: hf.model_type === "qwen3",
    invFreq: invFreq ?? Float32Array.from({ length: headDim / 2 }, (_, i) => 1 / theta ** ((2 * i) / headDim)),
    ropeAttentionScaling: attentionScaling
  }
}

/** The parameters of a model directory, as loadHfModel checks them against its config. */
export const loadWeights = async (dir: string): Promise<Weights> => (await Effect.runPromise(loadHfModel(dir))).weights

export interface Doc {
  readonly ids: ReadonlyArray<number>
  readonly labels: ReadonlyArray<number>
}

/**
 * Documents of the given lengths with seeded token ids; a prompt of 3 tokens is not trained (-100),
 * which also makes every document's first label -100, as packing guarantees.
 */
export const makeDocs = (vocab: number, lengths: ReadonlyArray<number>, seed: number): Array<Doc> => {
  let state = seed >>> 0
  const next = () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0
    return state
  }
  return lengths.map((length) => {
    const ids = Array.from({ length }, () => next() % vocab)
    return { ids, labels: ids.map((id, i) => (i < 3 ? -100 : id)) }
  })
}

/** The documents concatenated into one packed row, positions restarting at every document. */
export const pack = (docs: ReadonlyArray<Doc>): Batch => {
  const cu = [0]
  for (const d of docs) cu.push(cu[cu.length - 1]! + d.ids.length)
  return {
    inputIds: Int32Array.from(docs.flatMap((d) => d.ids)),
    labels: Int32Array.from(docs.flatMap((d) => d.labels)),
    positionIds: Int32Array.from(docs.flatMap((d) => d.ids.map((_, i) => i))),
    cuSeqlens: Int32Array.from(cu)
  }
}

/** Scored tokens of the documents (labels shift inside each one). */
export const scoredTokens = (docs: ReadonlyArray<Doc>): number =>
  docs.reduce((n, d) => n + d.labels.slice(1).filter((l) => l !== -100).length, 0)

export const maxAbsDiff = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  if (a.length !== b.length) throw new Error(`length ${a.length} != ${b.length}`)
  let m = 0
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!))
  return m
}

/** ||a - b|| / ||b||, with b the reference. */
export const relL2 = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  if (a.length !== b.length) throw new Error(`length ${a.length} != ${b.length}`)
  let num = 0
  let den = 0
  for (let i = 0; i < a.length; i++) {
    num += (a[i]! - b[i]!) ** 2
    den += b[i]! ** 2
  }
  return Math.sqrt(num) / Math.sqrt(den)
}

export const sameBits = (a: Weights, b: Weights): boolean =>
  Object.keys(a).length === Object.keys(b).length &&
  Object.entries(a).every(([name, x]) => {
    const y = b[name]
    return y !== undefined && Buffer.compare(Buffer.from(x.buffer, x.byteOffset, x.byteLength), Buffer.from(y.buffer, y.byteOffset, y.byteLength)) === 0
  })
