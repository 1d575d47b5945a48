/**
 * Hugging Face `config.json` → the engine's ModelConfig, for the architectures the engine runs
 * exactly: LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM (QKV bias) and Qwen3ForCausalLM
 * (q/k RMSNorm). Defaults are transformers' own per architecture; configs written by transformers 4
 * (`rope_theta`, `rope_scaling`) and 5 (`rope_parameters`) are both read. Anything the engine would
 * compute differently from transformers is refused with a message listing what is supported.
 */
import { Effect, Exit, Schema } from "effect"
import { readFile } from "node:fs/promises"
import { join } from "node:path"
import type { ModelConfig, Weights } from "./index.ts"
import { isRecord, readModelDirectory } from "./safetensors.ts"
import type { SafetensorsError } from "./safetensors.ts"

/** A config.json the engine cannot run, or weights that do not fit it; `message` names the file. */
export class HfConfigError extends Schema.TaggedError<HfConfigError>()("HfConfigError", {
  file: Schema.String,
  message: Schema.String
}) {}

/** The `architectures` entries the engine runs. */
export const supportedArchitectures = [
  "LlamaForCausalLM",
  "MistralForCausalLM",
  "Qwen2ForCausalLM",
  "Qwen3ForCausalLM"
] as const
export type Architecture = (typeof supportedArchitectures)[number]

/** RoPE variants computed exactly; others (linear, dynamic, yarn, longrope, ...) are refused. */
export const supportedRopeTypes = ["default", "llama3"] as const

const supported =
  `supported: ${supportedArchitectures.join(", ")} with hidden_act silu, RoPE types ${supportedRopeTypes.join(", ")}, ` +
  "no sliding window, no attention/MLP biases beyond Qwen2's q/k/v biases"

const modelTypes: Record<string, Architecture> = {
  llama: "LlamaForCausalLM",
  mistral: "MistralForCausalLM",
  qwen2: "Qwen2ForCausalLM",
  qwen3: "Qwen3ForCausalLM"
}

const defaultKvHeads: Record<Architecture, number | undefined> = {
  LlamaForCausalLM: undefined,
  MistralForCausalLM: 8,
  Qwen2ForCausalLM: 32,
  Qwen3ForCausalLM: 32
}

const PositiveInt = Schema.Int.check(Schema.isGreaterThan(0))
const Positive = Schema.Finite.check(Schema.isGreaterThan(0))

const RopeParameters = Schema.Struct({
  rope_type: Schema.optionalKey(Schema.String),
  type: Schema.optionalKey(Schema.String),
  rope_theta: Schema.optionalKey(Positive),
  factor: Schema.optionalKey(Positive),
  low_freq_factor: Schema.optionalKey(Positive),
  high_freq_factor: Schema.optionalKey(Positive),
  original_max_position_embeddings: Schema.optionalKey(PositiveInt),
  partial_rotary_factor: Schema.optionalKey(Positive)
})
const ropeKeys = new Set(Object.keys(RopeParameters.fields))

const ArchitectureJson = Schema.Struct({
  architectures: Schema.optionalKey(Schema.Array(Schema.String)),
  model_type: Schema.optionalKey(Schema.String)
})

/** The fields of config.json the engine reads; other keys are ignored as transformers ignores them at run time. */
const HfConfigJson = Schema.Struct({
  ...ArchitectureJson.fields,
  vocab_size: PositiveInt,
  hidden_size: PositiveInt,
  intermediate_size: PositiveInt,
  num_hidden_layers: PositiveInt,
  num_attention_heads: PositiveInt,
  num_key_value_heads: Schema.optionalKey(Schema.NullOr(PositiveInt)),
  head_dim: Schema.optionalKey(Schema.NullOr(PositiveInt)),
  hidden_act: Schema.optionalKey(Schema.String),
  max_position_embeddings: Schema.optionalKey(PositiveInt),
  original_max_position_embeddings: Schema.optionalKey(PositiveInt),
  rms_norm_eps: Schema.optionalKey(Positive),
  tie_word_embeddings: Schema.optionalKey(Schema.Boolean),
  attention_bias: Schema.optionalKey(Schema.Boolean),
  mlp_bias: Schema.optionalKey(Schema.Boolean),
  attention_dropout: Schema.optionalKey(Schema.Finite),
  rope_theta: Schema.optionalKey(Positive),
  rope_scaling: Schema.optionalKey(Schema.NullOr(RopeParameters)),
  rope_parameters: Schema.optionalKey(Schema.NullOr(RopeParameters)),
  partial_rotary_factor: Schema.optionalKey(Schema.NullOr(Positive)),
  sliding_window: Schema.optionalKey(Schema.NullOr(Schema.Int)),
  use_sliding_window: Schema.optionalKey(Schema.Boolean),
  max_window_layers: Schema.optionalKey(Schema.Int),
  layer_types: Schema.optionalKey(Schema.NullOr(Schema.Array(Schema.String)))
})
type HfConfigJson = typeof HfConfigJson.Type

/** The RoPE a config asks for, after transformers' standardisation. */
export type Rope =
  | { readonly type: "default"; readonly theta: number }
  | {
    readonly type: "llama3"
    readonly theta: number
    readonly factor: number
    readonly lowFreqFactor: number
    readonly highFreqFactor: number
    readonly originalMaxPositionEmbeddings: number
  }

/** A decoded model directory config: the engine's config plus what export needs to write it back. */
export interface HfModelConfig {
  readonly architecture: Architecture
  readonly config: ModelConfig
  readonly rope: Rope
  /** config.json as read, so an exported model keeps the input's form and its unrelated fields. */
  readonly json: Readonly<Record<string, unknown>>
}

const f32 = Math.fround

/**
 * Inverse frequencies exactly as transformers computes them in float32 tensors
 * (`compute_default_rope_parameters` and `_compute_llama3_parameters`): every operation is rounded
 * to fp32 in torch's order, and `scalar / tensor` is torch's reciprocal-then-multiply.
 */
export const computeInvFreq = (rope: Rope, headDim: number): Float32Array => {
  const half = headDim / 2
  const base = new Float32Array(half)
  for (let i = 0; i < half; i++) {
    const exponent = f32(f32(2 * i) / f32(headDim))
    base[i] = f32(1 / f32(Math.pow(f32(rope.theta), exponent)))
  }
  if (rope.type === "default") return base
  const factor = f32(rope.factor)
  const lowFreqWavelen = f32(rope.originalMaxPositionEmbeddings / rope.lowFreqFactor)
  const highFreqWavelen = f32(rope.originalMaxPositionEmbeddings / rope.highFreqFactor)
  const twoPi = f32(2 * Math.PI)
  const oldContext = f32(rope.originalMaxPositionEmbeddings)
  const lowFactor = f32(rope.lowFreqFactor)
  const span = f32(rope.highFreqFactor - rope.lowFreqFactor)
  const out = new Float32Array(half)
  for (let i = 0; i < half; i++) {
    const inv = base[i]!
    const wavelen = f32(f32(1 / inv) * twoPi)
    const scaled = wavelen > lowFreqWavelen ? f32(inv / factor) : inv
    const smooth = f32(f32(f32(f32(1 / wavelen) * oldContext) - lowFactor) / span)
    const smoothed = f32(f32(f32(f32(1 - smooth) * scaled) / factor) + f32(smooth * scaled))
    const medium = !(wavelen < highFreqWavelen) && !(wavelen > lowFreqWavelen)
    out[i] = medium ? smoothed : scaled
  }
  return out
}

/** Decodes a parsed config.json; `file` is only used in messages. */
export const parseHfConfig = (json: unknown, file: string): Effect.Effect<HfModelConfig, HfConfigError> =>
  Effect.gen(function*() {
    const fail = failIn(file)
    if (!isRecord(json)) return yield* fail("config.json must be a JSON object")
    // The architecture first: an unsupported model should be told so, not that it lacks Llama's fields.
    const architecture = yield* resolveArchitecture(yield* decodeWith(ArchitectureJson, json, fail), fail)
    const c = yield* decodeWith(HfConfigJson, json, fail)
    if ((c.hidden_act ?? "silu") !== "silu") {
      return yield* fail(`hidden_act ${JSON.stringify(c.hidden_act)} is not supported (${supported})`)
    }
    if ((c.attention_dropout ?? 0) !== 0) {
      return yield* fail(`attention_dropout ${c.attention_dropout} is not supported: the engine has no dropout (${supported})`)
    }
    if (c.attention_bias === true) {
      return yield* fail(`attention_bias true is not supported for ${architecture} (${supported})`)
    }
    if (c.mlp_bias === true) return yield* fail(`mlp_bias true is not supported (${supported})`)
    const sliding = slidingLayers(architecture, c)
    if (sliding !== undefined) return yield* fail(`${sliding} (${supported})`)

    // transformers' defaults when the key is absent: Mistral 8, Qwen2/Qwen3 32; null (or Llama) means one per head.
    const numKvHeads = c.num_key_value_heads ??
      ("num_key_value_heads" in json ? undefined : defaultKvHeads[architecture]) ?? c.num_attention_heads
    if (c.num_attention_heads % numKvHeads !== 0) {
      return yield* fail(`num_attention_heads ${c.num_attention_heads} is not a multiple of num_key_value_heads ${numKvHeads}`)
    }
    // transformers: head_dim from the config when set, else hidden_size // heads (Qwen3's default is 128).
    const headDim = c.head_dim ?? (architecture === "Qwen3ForCausalLM" && !("head_dim" in json)
      ? 128
      : Math.floor(c.hidden_size / c.num_attention_heads))
    if (headDim % 2 !== 0 || headDim === 0) return yield* fail(`head_dim ${headDim} must be even for RoPE`)

    const rope = yield* resolveRope(c, json, fail)
    const config: ModelConfig = {
      vocabSize: c.vocab_size,
      hiddenSize: c.hidden_size,
      intermediateSize: c.intermediate_size,
      numLayers: c.num_hidden_layers,
      numHeads: c.num_attention_heads,
      numKvHeads,
      headDim,
      rmsNormEps: c.rms_norm_eps ?? 1e-6,
      tieWordEmbeddings: c.tie_word_embeddings ?? false,
      qkvBias: architecture === "Qwen2ForCausalLM",
      qkNorm: architecture === "Qwen3ForCausalLM",
      invFreq: computeInvFreq(rope, headDim),
      // Both supported rope types leave cos/sin unscaled (transformers' attention_factor = 1.0).
      ropeAttentionScaling: 1
    }
    return { architecture, config, rope, json }
  })

type Fail = (reason: string) => Effect.Effect<never, HfConfigError>

/** Fails with an HfConfigError about `file` (a config.json or a model directory) whose message starts with it. */
export const failIn = (file: string): Fail => (reason) => Effect.fail(new HfConfigError({ file, message: `${file}: ${reason}` }))

// Decodes with every field error reported, each as "what was expected at [path]".
const decodeWith = <S extends Schema.Decoder<unknown>>(schema: S, json: unknown, fail: Fail): Effect.Effect<S["Type"], HfConfigError> => {
  const exit = Schema.decodeUnknownExit(schema)(json, { errors: "all" })
  if (Exit.isSuccess(exit)) return Effect.succeed(exit.value)
  const error = exit.cause.reasons.find((r) => r._tag === "Fail")
  return fail(error?._tag === "Fail" ? error.error.message.replace(/\n\s*/g, " ") : String(exit.cause))
}

const resolveArchitecture = (c: typeof ArchitectureJson.Type, fail: Fail): Effect.Effect<Architecture, HfConfigError> => {
  const named = c.architectures ?? []
  if (named.length > 1) return fail(`architectures ${JSON.stringify(named)} must name one architecture (${supported})`)
  const name = named[0] ?? (c.model_type === undefined ? undefined : modelTypes[c.model_type])
  if (name === undefined) {
    return fail(`neither architectures nor model_type ${JSON.stringify(c.model_type)} names a supported model (${supported})`)
  }
  if (!(supportedArchitectures as ReadonlyArray<string>).includes(name)) {
    return fail(`architecture ${name} is not supported (${supported})`)
  }
  return Effect.succeed(name as Architecture)
}

// What makes some layer use sliding-window attention, following each config class's own rule; undefined if none.
const slidingLayers = (architecture: Architecture, c: HfConfigJson): string | undefined => {
  if (architecture === "MistralForCausalLM") {
    // MistralConfig defaults sliding_window to 4096 and applies it on every layer.
    const window = "sliding_window" in c ? c.sliding_window : 4096
    return window === null || window === undefined ? undefined : `sliding_window ${window} is not supported; set it to null`
  }
  if (c.layer_types !== undefined && c.layer_types !== null) {
    const other = c.layer_types.find((t) => t !== "full_attention")
    return other === undefined ? undefined : `layer_types entry ${JSON.stringify(other)} is not supported (only "full_attention")`
  }
  if (architecture === "LlamaForCausalLM" || c.use_sliding_window !== true) return undefined
  // Qwen2/Qwen3: layers from max_window_layers on slide when use_sliding_window and sliding_window are set.
  const window = "sliding_window" in c ? c.sliding_window : 4096
  const first = c.max_window_layers ?? 28
  return window !== null && window !== undefined && first < c.num_hidden_layers
    ? `use_sliding_window makes layers ${first}..${c.num_hidden_layers - 1} use sliding_window ${window}`
    : undefined
}

// transformers 5's convert_rope_params_to_dict + standardize_rope_params: a truthy rope_scaling wins,
// then rope_parameters; rope_theta comes from that dict, else the top-level key, else 10000.
const resolveRope = (c: HfConfigJson, json: Record<string, unknown>, fail: Fail): Effect.Effect<Rope, HfConfigError> => {
  const source = c.rope_scaling != null && Object.keys(c.rope_scaling).length > 0 ? "rope_scaling" : "rope_parameters"
  const params = c[source] ?? {}
  const field = (key: string) => `${source}.${key}`
  const raw = json[source]
  if (isRecord(raw)) {
    const unknown = Object.keys(raw).filter((k) => !ropeKeys.has(k))
    if (unknown.length > 0) {
      return fail(`${field(unknown[0]!)} is not supported (keys understood: ${[...ropeKeys].join(", ")}; ${supported})`)
    }
  }
  const partial = params.partial_rotary_factor ?? c.partial_rotary_factor ?? 1
  if (partial !== 1) return fail(`partial_rotary_factor ${partial} is not supported (${supported})`)
  const type = params.rope_type ?? params.type ?? "default"
  const theta = params.rope_theta ?? c.rope_theta ?? 10000
  if (type === "default") return Effect.succeed({ type, theta })
  if (type !== "llama3") {
    return fail(`${field("rope_type")} ${JSON.stringify(type)} is not supported (${supported})`)
  }
  const { factor, low_freq_factor, high_freq_factor } = params
  if (factor === undefined || low_freq_factor === undefined || high_freq_factor === undefined) {
    return fail(`${field("rope_type")} llama3 needs factor, low_freq_factor and high_freq_factor`)
  }
  if (high_freq_factor <= low_freq_factor) {
    return fail(`${field("high_freq_factor")} ${high_freq_factor} must exceed low_freq_factor ${low_freq_factor}`)
  }
  // standardize_rope_params gives a top-level original_max_position_embeddings priority over the dict's.
  const original = c.original_max_position_embeddings ?? params.original_max_position_embeddings ?? c.max_position_embeddings
  if (original === undefined) {
    return fail(`${field("original_max_position_embeddings")} (or max_position_embeddings) is needed for llama3 RoPE`)
  }
  return Effect.succeed({
    type,
    theta,
    factor,
    lowFreqFactor: low_freq_factor,
    highFreqFactor: high_freq_factor,
    originalMaxPositionEmbeddings: original
  })
}

/** Reads and decodes `dir/config.json`. */
export const readHfConfig = (dir: string): Effect.Effect<HfModelConfig, HfConfigError> => {
  const file = join(dir, "config.json")
  return Effect.tryPromise({
    try: () => readFile(file, "utf8"),
    catch: (cause) => new HfConfigError({ file, message: `${file}: ${(cause as NodeJS.ErrnoException).code ?? String(cause)}` })
  }).pipe(
    Effect.flatMap((text) =>
      Effect.try({
        try: () => JSON.parse(text) as unknown,
        catch: (cause) => new HfConfigError({ file, message: `${file}: not valid JSON (${(cause as Error).message})` })
      })
    ),
    Effect.flatMap((json) => parseHfConfig(json, file))
  )
}

/** Every parameter of a config by HF name, with its shape (lm_head.weight only when untied). */
export const parameterShapes = (config: ModelConfig): Record<string, ReadonlyArray<number>> => {
  const { vocabSize: V, hiddenSize: C, intermediateSize: F, numHeads: H, numKvHeads: KVH, headDim: D } = config
  const shapes: Record<string, ReadonlyArray<number>> = { "model.embed_tokens.weight": [V, C] }
  for (let i = 0; i < config.numLayers; i++) {
    const p = `model.layers.${i}`
    shapes[`${p}.input_layernorm.weight`] = [C]
    shapes[`${p}.self_attn.q_proj.weight`] = [H * D, C]
    shapes[`${p}.self_attn.k_proj.weight`] = [KVH * D, C]
    shapes[`${p}.self_attn.v_proj.weight`] = [KVH * D, C]
    if (config.qkvBias) {
      shapes[`${p}.self_attn.q_proj.bias`] = [H * D]
      shapes[`${p}.self_attn.k_proj.bias`] = [KVH * D]
      shapes[`${p}.self_attn.v_proj.bias`] = [KVH * D]
    }
    if (config.qkNorm) {
      shapes[`${p}.self_attn.q_norm.weight`] = [D]
      shapes[`${p}.self_attn.k_norm.weight`] = [D]
    }
    shapes[`${p}.self_attn.o_proj.weight`] = [C, H * D]
    shapes[`${p}.post_attention_layernorm.weight`] = [C]
    shapes[`${p}.mlp.gate_proj.weight`] = [F, C]
    shapes[`${p}.mlp.up_proj.weight`] = [F, C]
    shapes[`${p}.mlp.down_proj.weight`] = [C, F]
  }
  shapes["model.norm.weight"] = [C]
  if (!config.tieWordEmbeddings) shapes["lm_head.weight"] = [V, C]
  return shapes
}

// Buffers some checkpoints carry that transformers recomputes from the config.
const recomputedBuffer = (name: string): boolean => name.endsWith(".rotary_emb.inv_freq")

/**
 * A model directory: config.json plus its safetensors weights, every tensor checked by name and
 * shape against the config. A tied model's lm_head.weight, when a checkpoint stores it anyway, is
 * dropped: transformers ties it to the embedding.
 */
export const loadHfModel = (
  dir: string
): Effect.Effect<HfModelConfig & { readonly weights: Weights }, HfConfigError | SafetensorsError> =>
  Effect.gen(function*() {
    const model = yield* readHfConfig(dir)
    const tensors = yield* readModelDirectory(dir)
    const expected = parameterShapes(model.config)
    const fail = failIn(dir)
    const weights: Weights = {}
    for (const [name, tensor] of Object.entries(tensors)) {
      if (recomputedBuffer(name) || (name === "lm_head.weight" && model.config.tieWordEmbeddings)) continue
      const shape = expected[name]
      if (shape === undefined) return yield* fail(`tensor "${name}" is not a parameter of ${model.architecture} with this config`)
      if (shape.length !== tensor.shape.length || shape.some((d, i) => d !== tensor.shape[i])) {
        return yield* fail(`tensor "${name}" has shape [${tensor.shape.join(", ")}], config.json implies [${shape.join(", ")}]`)
      }
      weights[name] = tensor.data
    }
    const missing = Object.keys(expected).filter((name) => weights[name] === undefined)
    if (missing.length > 0) return yield* fail(`missing tensors ${missing.join(", ")}`)
    return { ...model, weights }
  })
