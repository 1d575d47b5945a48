/**
 * Writes a Hugging Face model directory that transformers loads: `config.json` in the form it was
 * read (transformers 4 or 5 keys, unrelated fields kept) and the weights as safetensors, in fp32 or
 * rounded to bf16, in one `model.safetensors` or, above a shard size, in shards named as
 * `save_pretrained` names them with their `model.safetensors.index.json`.
 * Tokenizer files and generation_config.json are the export stage's business, not the engine's.
 */
import { Effect } from "effect"
import { writeFile } from "node:fs/promises"
import { join } from "node:path"
import { failIn, HfConfigError, parameterShapes } from "./hfConfig.ts"
import type { HfModelConfig } from "./hfConfig.ts"
import type { Weights } from "./index.ts"
import { numel, writeSafetensors } from "./safetensors.ts"
import type { SafetensorsError, Tensor } from "./safetensors.ts"

/** How the weights are stored. */
export interface ExportOptions {
  readonly dtype: "float32" | "bfloat16"
  /** Bytes per shard; a tensor larger than this gets a shard of its own. */
  readonly maxShardBytes: number
}

const fp32: ExportOptions = { dtype: "float32", maxShardBytes: Infinity }

/**
 * The input's config.json with its dtype set to the stored one, under whichever key the input used
 * (`torch_dtype` in transformers 4, `dtype` in 5): transformers loads a model in the dtype its
 * config names.
 */
export const exportedConfigJson = (
  json: Readonly<Record<string, unknown>>,
  dtype: ExportOptions["dtype"] = "float32"
): Record<string, unknown> => {
  const out: Record<string, unknown> = { ...json }
  const keys = ["dtype", "torch_dtype"].filter((k) => k in json)
  for (const key of keys.length > 0 ? keys : ["dtype"]) out[key] = dtype
  return out
}

/**
 * Shards in name order, each filled until the next tensor would pass `maxShardBytes` (the greedy
 * rule of huggingface_hub's `split_torch_state_dict_into_shards`).
 */
const shardsOf = (tensors: Readonly<Record<string, Tensor>>, bytesPer: number, maxShardBytes: number) => {
  const shards: Array<Array<string>> = [[]]
  let size = 0
  for (const name of Object.keys(tensors).sort()) {
    const bytes = numel(tensors[name]!.shape) * bytesPer
    if (shards.at(-1)!.length > 0 && size + bytes > maxShardBytes) {
      shards.push([])
      size = 0
    }
    shards.at(-1)!.push(name)
    size += bytes
  }
  return shards
}

/** Writes `dir/config.json` and the weights; `dir` must exist. */
export const exportHfModel = (
  dir: string,
  model: Pick<HfModelConfig, "config" | "json">,
  weights: Weights,
  options: ExportOptions = fp32
): Effect.Effect<void, HfConfigError | SafetensorsError> =>
  Effect.gen(function*() {
    const fail = failIn(dir)
    const tensors: Record<string, Tensor> = {}
    for (const [name, shape] of Object.entries(parameterShapes(model.config))) {
      const data = weights[name]
      if (data === undefined) return yield* fail(`cannot export: weight ${name} is missing`)
      const elements = numel(shape)
      if (data.length !== elements) {
        return yield* fail(`cannot export: weight ${name} has ${data.length} values, [${shape.join(", ")}] needs ${elements}`)
      }
      tensors[name] = { shape, data }
    }
    const write = (file: string, text: string) =>
      Effect.tryPromise({
        try: () => writeFile(join(dir, file), text),
        catch: (cause) => new HfConfigError({ file: join(dir, file), message: `${join(dir, file)}: ${String(cause)}` })
      })
    yield* write("config.json", JSON.stringify(exportedConfigJson(model.json, options.dtype), null, 2) + "\n")
    const dtype = options.dtype === "bfloat16" ? "BF16" : "F32"
    const bytesPer = dtype === "BF16" ? 2 : 4
    const shards = shardsOf(tensors, bytesPer, options.maxShardBytes)
    if (shards.length === 1) return yield* writeSafetensors(join(dir, "model.safetensors"), tensors, undefined, dtype)
    const weightMap: Record<string, string> = {}
    let totalSize = 0
    for (const [i, names] of shards.entries()) {
      const file = `model-${String(i + 1).padStart(5, "0")}-of-${String(shards.length).padStart(5, "0")}.safetensors`
      yield* writeSafetensors(join(dir, file), Object.fromEntries(names.map((name) => [name, tensors[name]!])), undefined, dtype)
      for (const name of names) {
        weightMap[name] = file
        totalSize += numel(tensors[name]!.shape) * bytesPer
      }
    }
    yield* write("model.safetensors.index.json", JSON.stringify({ metadata: { total_size: totalSize }, weight_map: weightMap }, null, 2) + "\n")
  })
