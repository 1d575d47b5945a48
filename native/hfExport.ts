/**
 * Writes a Hugging Face model directory that transformers loads: `config.json` in the form it was
 * read (transformers 4 or 5 keys, unrelated fields kept) and `model.safetensors` with fp32 weights.
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

/**
 * The input's config.json with its dtype set to float32, under whichever key the input used
 * (`torch_dtype` in transformers 4, `dtype` in 5): the weights are written in fp32 and transformers
 * loads a model in the dtype its config names.
 */
export const exportedConfigJson = (json: Readonly<Record<string, unknown>>): Record<string, unknown> => {
  const out: Record<string, unknown> = { ...json }
  const keys = ["dtype", "torch_dtype"].filter((k) => k in json)
  for (const key of keys.length > 0 ? keys : ["dtype"]) out[key] = "float32"
  return out
}

/** Writes `dir/config.json` and `dir/model.safetensors`; `dir` must exist. */
export const exportHfModel = (
  dir: string,
  model: Pick<HfModelConfig, "config" | "json">,
  weights: Weights
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
    const configFile = join(dir, "config.json")
    yield* Effect.tryPromise({
      try: () => writeFile(configFile, JSON.stringify(exportedConfigJson(model.json), null, 2) + "\n"),
      catch: (cause) => new HfConfigError({ file: configFile, message: `${configFile}: ${String(cause)}` })
    })
    yield* writeSafetensors(join(dir, "model.safetensors"), tensors)
  })
