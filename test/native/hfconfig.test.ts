import { fixtures as shared } from "../support/fixtures.ts"
import { Cause, Effect, Exit } from "effect"
import { cpSync, readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "vitest"
import { HfConfigError, loadHfModel, parameterShapes, parseHfConfig, readHfConfig } from "../../native/hfConfig.ts"
import { exportedConfigJson } from "../../native/hfExport.ts"
import { readSafetensors, writeSafetensors } from "../../native/safetensors.ts"
import { describeOracle, runOracle } from "../support/oracle.ts"
import { testDir } from "./tempDir.ts"

const script = fileURLToPath(new URL("./oracle/config_ref.py", import.meta.url))
const fixtures = `${shared}/models`
const fixtureJson = (name: string) => JSON.parse(readFileSync(join(fixtures, name, "config.json"), "utf8")) as Record<string, unknown>

const base = {
  vocab_size: 300,
  hidden_size: 96,
  intermediate_size: 160,
  num_hidden_layers: 2,
  num_attention_heads: 6,
  num_key_value_heads: 2,
  max_position_embeddings: 131072
}
const without = (json: Record<string, unknown>, key: string) => Object.fromEntries(Object.entries(json).filter(([k]) => k !== key))
const llama3Scaling = { factor: 8.0, low_freq_factor: 1.0, high_freq_factor: 4.0, original_max_position_embeddings: 8192 }

// Configs in the forms transformers 4 and 5 write, for every architecture and rope type we support.
const configs: ReadonlyArray<{ name: string; json: Record<string, unknown> }> = [
  { name: "llama fixture (v5 + rope_theta)", json: fixtureJson("tiny-random-llama") },
  { name: "qwen2 fixture (tied, theta 1e6)", json: fixtureJson("tiny-random-qwen2") },
  { name: "llama default rope, v4 rope_theta", json: { ...base, architectures: ["LlamaForCausalLM"], model_type: "llama", rope_theta: 10000 } },
  { name: "llama 3.1 rope, v4 rope_scaling", json: { ...base, architectures: ["LlamaForCausalLM"], model_type: "llama", head_dim: 128, rope_theta: 500000, rope_scaling: { ...llama3Scaling, rope_type: "llama3" } } },
  { name: "llama 3 rope, v4 'type' key", json: { ...base, architectures: ["LlamaForCausalLM"], model_type: "llama", rope_theta: 500000, rope_scaling: { ...llama3Scaling, type: "llama3" } } },
  { name: "llama 3.2 rope, v5 rope_parameters", json: { ...base, architectures: ["LlamaForCausalLM"], model_type: "llama", head_dim: 64, tie_word_embeddings: true, rope_parameters: { rope_type: "llama3", rope_theta: 500000, factor: 32, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 8192 } } },
  { name: "llama 3 rope, odd factors", json: { ...base, architectures: ["LlamaForCausalLM"], model_type: "llama", head_dim: 40, rope_parameters: { rope_type: "llama3", rope_theta: 12345.5, factor: 3, low_freq_factor: 1.5, high_freq_factor: 7, original_max_position_embeddings: 300 } } },
  { name: "mistral, window null, kv default", json: { ...without(base, "num_key_value_heads"), architectures: ["MistralForCausalLM"], model_type: "mistral", num_attention_heads: 8, sliding_window: null, rope_theta: 1000000 } },
  { name: "qwen2 v4", json: { ...base, architectures: ["Qwen2ForCausalLM"], model_type: "qwen2", rope_theta: 1000000, use_sliding_window: false, sliding_window: 4096, max_window_layers: 1, tie_word_embeddings: true, rms_norm_eps: 1e-6 } },
  { name: "qwen3 explicit head_dim", json: { ...base, architectures: ["Qwen3ForCausalLM"], model_type: "qwen3", head_dim: 32, rope_parameters: { rope_type: "default", rope_theta: 1000000 } } },
  { name: "qwen3 default head_dim 128", json: { ...base, architectures: ["Qwen3ForCausalLM"], model_type: "qwen3", rope_theta: 1000000 } },
  { name: "model_type only", json: { ...base, model_type: "llama", rope_theta: 10000, rms_norm_eps: 1e-5 } }
]

const decode = (json: unknown) => Effect.runSync(parseHfConfig(json, "config.json"))

const refusal = (json: unknown): string => {
  const exit = Effect.runSyncExit(parseHfConfig(json, "m/config.json"))
  if (Exit.isSuccess(exit)) throw new Error("expected a refusal")
  const error = Cause.findErrorOption(exit.cause)
  if (error._tag === "None") throw new Error(Cause.pretty(exit.cause))
  expect(error.value).toBeInstanceOf(HfConfigError)
  expect(error.value.message.startsWith("m/config.json: ")).toBe(true)
  return error.value.message
}

describe("hfConfig: the fixtures", () => {
  it("reads the tiny Llama (untied, GQA 2)", async () => {
    const { architecture, config } = await Effect.runPromise(readHfConfig(join(fixtures, "tiny-random-llama")))
    expect(architecture).toBe("LlamaForCausalLM")
    expect({ ...config, invFreq: undefined }).toEqual({
      vocabSize: 512, hiddenSize: 64, intermediateSize: 128, numLayers: 2, numHeads: 4, numKvHeads: 2, headDim: 16,
      rmsNormEps: 1e-5, tieWordEmbeddings: false, qkvBias: false, qkNorm: false, invFreq: undefined, ropeAttentionScaling: 1
    })
  })

  it("reads the tiny Qwen2 (tied, QKV bias)", () => {
    const { config } = decode(fixtureJson("tiny-random-qwen2"))
    expect([config.tieWordEmbeddings, config.qkvBias, config.qkNorm, config.rmsNormEps]).toEqual([true, true, false, 1e-6])
  })
})

describe("hfConfig: refusals list what is supported", () => {
  const llama = { ...base, architectures: ["LlamaForCausalLM"] }
  const cases: ReadonlyArray<[string, unknown, string]> = [
    ["gpt2", fixtureJson("tiny-random-gpt2"), "GPT2LMHeadModel is not supported (supported: LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM, Qwen3ForCausalLM"],
    ["yarn", { ...llama, rope_scaling: { rope_type: "yarn", factor: 4, original_max_position_embeddings: 4096 } }, 'rope_scaling.rope_type "yarn" is not supported'],
    ["dynamic", { ...llama, rope_parameters: { rope_type: "dynamic", factor: 2, rope_theta: 1e4 } }, 'rope_parameters.rope_type "dynamic" is not supported'],
    ["linear", { ...llama, rope_scaling: { type: "linear", factor: 2 } }, 'rope_scaling.rope_type "linear" is not supported'],
    ["yarn keys", { ...llama, rope_parameters: { rope_type: "llama3", ...llama3Scaling, beta_fast: 32 } }, "rope_parameters.beta_fast is not supported"],
    ["llama3 without factors", { ...llama, rope_parameters: { rope_type: "llama3", factor: 8 } }, "needs factor, low_freq_factor and high_freq_factor"],
    ["partial rotary", { ...llama, partial_rotary_factor: 0.5 }, "partial_rotary_factor 0.5 is not supported"],
    ["mistral default window", { ...base, architectures: ["MistralForCausalLM"] }, "sliding_window 4096 is not supported; set it to null"],
    ["qwen2 sliding", { ...base, architectures: ["Qwen2ForCausalLM"], use_sliding_window: true, sliding_window: 64, max_window_layers: 1 }, "use_sliding_window makes layers 1..1 use sliding_window 64"],
    ["layer types", { ...base, architectures: ["Qwen3ForCausalLM"], layer_types: ["full_attention", "sliding_attention"] }, 'layer_types entry "sliding_attention" is not supported'],
    ["attention bias", { ...llama, attention_bias: true }, "attention_bias true is not supported for LlamaForCausalLM"],
    ["mlp bias", { ...llama, mlp_bias: true }, "mlp_bias true is not supported"],
    ["gelu", { ...llama, hidden_act: "gelu" }, 'hidden_act "gelu" is not supported'],
    ["dropout", { ...llama, attention_dropout: 0.1 }, "attention_dropout 0.1 is not supported"],
    ["two architectures", { ...llama, architectures: ["LlamaForCausalLM", "MistralForCausalLM"] }, "must name one architecture"],
    ["no architecture", { ...base }, "neither architectures nor model_type"],
    ["kv heads", { ...llama, num_key_value_heads: 4 }, "num_attention_heads 6 is not a multiple of num_key_value_heads 4"],
    ["odd head_dim", { ...llama, head_dim: 15 }, "head_dim 15 must be even"],
    ["string field", { ...llama, hidden_size: "96" }, 'Expected number at ["hidden_size"]'],
    ["fractional field", { ...llama, num_hidden_layers: 2.5 }, 'at ["num_hidden_layers"]'],
    ["missing field", without(llama, "vocab_size"), 'Missing key at ["vocab_size"]'],
    ["bad rope value", { ...llama, rope_parameters: { rope_type: "default", rope_theta: -1 } }, '["rope_parameters"]["rope_theta"]'],
    ["not an object", [1, 2], "must be a JSON object"]
  ]
  for (const [name, json, expected] of cases) {
    it(`refuses ${name}`, () => expect(refusal(json)).toContain(expected))
  }
})

describe("hfConfig: loading a model directory", () => {
  it("loads a fixture with every tensor checked against the config", async () => {
    const model = await Effect.runPromise(loadHfModel(join(fixtures, "tiny-random-qwen2")))
    const shapes = parameterShapes(model.config)
    expect(Object.keys(model.weights).sort()).toEqual(Object.keys(shapes).sort())
    expect(Object.values(model.weights).reduce((n, w) => n + w.length, 0)).toBe(107_072)
  })

  const mutated = async (edit: (t: Record<string, { shape: ReadonlyArray<number>; data: Float32Array }>) => void) => {
    const dir = testDir("hfcfg-")
    cpSync(join(fixtures, "tiny-random-llama", "config.json"), join(dir, "config.json"))
    const tensors = await Effect.runPromise(readSafetensors(join(fixtures, "tiny-random-llama", "model.safetensors")))
    edit(tensors)
    await Effect.runPromise(writeSafetensors(join(dir, "model.safetensors"), tensors))
    const exit = await Effect.runPromiseExit(loadHfModel(dir))
    if (Exit.isSuccess(exit)) throw new Error("expected a refusal")
    return { dir, message: Cause.pretty(exit.cause) }
  }

  it("refuses a tensor whose shape contradicts config.json", async () => {
    const { dir, message } = await mutated((t) => {
      t["model.norm.weight"] = { shape: [32, 2], data: t["model.norm.weight"]!.data }
    })
    expect(message).toContain(`${dir}: tensor "model.norm.weight" has shape [32, 2], config.json implies [64]`)
  })

  it("refuses missing and unexpected tensors", async () => {
    const missing = await mutated((t) => delete t["lm_head.weight"])
    expect(missing.message).toContain("missing tensors lm_head.weight")
    const extra = await mutated((t) => {
      t["model.layers.0.mlp.gate_proj.bias"] = { shape: [128], data: new Float32Array(128) }
    })
    expect(extra.message).toContain('tensor "model.layers.0.mlp.gate_proj.bias" is not a parameter of LlamaForCausalLM')
  })

  it("refuses a bad config.json with its file name", async () => {
    const dir = testDir("hfcfg-")
    writeFileSync(join(dir, "config.json"), "{ not json")
    const exit = await Effect.runPromiseExit(readHfConfig(dir))
    expect(Exit.isFailure(exit) && Cause.pretty(exit.cause)).toContain(`${join(dir, "config.json")}: not valid JSON`)
  })
})

describe("hfExport: config.json keeps the input's form", () => {
  it("keeps transformers 4 keys and sets torch_dtype to float32", () => {
    const v4 = { ...configs[3]!.json, torch_dtype: "bfloat16", transformers_version: "4.45.0" }
    const out = exportedConfigJson(v4)
    expect(out).toEqual({ ...v4, torch_dtype: "float32" })
    expect(decode(out).config.invFreq).toEqual(decode(v4).config.invFreq)
  })

  it("keeps transformers 5 keys and adds dtype when absent", () => {
    const v5 = configs[5]!.json
    expect(exportedConfigJson(v5)).toEqual({ ...v5, dtype: "float32" })
  })
})

describeOracle("hfConfig against transformers", () => {
  it("resolves heads, eps, tying and RoPE inverse frequencies exactly as transformers does", () => {
    const reference = JSON.parse(runOracle(script, [], JSON.stringify(configs.map((c) => c.json)))) as Array<{
      inv_freq: Array<number>; attention_scaling: number; head_dim: number; num_key_value_heads: number
      tie_word_embeddings: boolean; rms_norm_eps: number
    }>
    configs.forEach(({ name, json }, i) => {
      const ref = reference[i]!
      const { config } = decode(json)
      expect(config.headDim, name).toBe(ref.head_dim)
      expect(config.numKvHeads, name).toBe(ref.num_key_value_heads)
      expect(config.tieWordEmbeddings, name).toBe(ref.tie_word_embeddings)
      expect(config.rmsNormEps, name).toBe(ref.rms_norm_eps)
      expect(config.ropeAttentionScaling, name).toBe(ref.attention_scaling)
      // Every fp32 rounding of transformers' formula is emulated step by step. The one op we cannot
      // reproduce bit for bit is torch's vectorised powf (SLEEF, within 1 ulp, not correctly
      // rounded), so a value may differ by at most one ulp.
      ref.inv_freq.forEach((expected, j) => {
        const ulp = 2 ** (Math.floor(Math.log2(expected)) - 23)
        expect(Math.abs(config.invFreq[j]! - expected), `${name}: inv_freq[${j}]`).toBeLessThanOrEqual(ulp)
      })
      expect(config.invFreq.length, name).toBe(ref.inv_freq.length)
    })
  })
})
