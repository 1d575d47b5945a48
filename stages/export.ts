/**
 * export: the chosen weights as a Hugging Face model directory that `transformers` loads:
 * `config.json`, safetensors in float32 or bfloat16 (sharded with `model.safetensors.index.json`
 * above `maxShardSize`), the tokenizer files, `tokenizer_config.json` with the chat template the
 * model was trained with, `generation_config.json` whose EOS ids are the template's end of turn
 * (the model learned to stop there) and the tokenizer's EOS, and a README.md model card.
 */
import { Effect, Schema } from "effect"
import { copyFile, mkdir, readdir, readFile, writeFile } from "node:fs/promises"
import { join, relative } from "node:path"
import { loadHfModel, parameterShapes } from "../native/hfConfig.ts"
import { exportHfModel } from "../native/hfExport.ts"
import { numel } from "../native/safetensors.ts"
import { defineStage, Files, Optional, StageFailure, Table, withDefault } from "../src/index.ts"
import { deriveEndOfTurn } from "./chat/spans.ts"
import { resolveTemplateSource } from "./chat/TemplateSource.ts"
import { stopTokensOf } from "./evaluate/prompts.ts"
import { modelCard } from "./export/modelCard.ts"
import { evalMetricsSchema } from "./schemas/evaluation.ts"
import { TemplateConfig } from "./template.ts"
import { loadEncoder } from "./tokenize.ts"

/** "5GB" (10^9 bytes, as transformers' `max_shard_size`), "500MiB", or a byte count. */
const ShardSize = Schema.Union([
  Schema.Int.check(Schema.isGreaterThanOrEqualTo(1)),
  Schema.String.check(Schema.isPattern(/^\d+(\.\d+)?\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)$/))
])

const units: Record<string, number> = { B: 1, KB: 1e3, MB: 1e6, GB: 1e9, TB: 1e12, KiB: 2 ** 10, MiB: 2 ** 20, GiB: 2 ** 30, TiB: 2 ** 40 }

const shardBytes = (size: number | string): number => {
  if (typeof size === "number") return size
  const match = /^(\d+(?:\.\d+)?)\s*(\w+)$/.exec(size)!
  return Number(match[1]) * units[match[2]!]!
}

/** The template fields say which template the model was trained with: give them as to the template stage. */
export const ExportConfig = Schema.Struct({
  ...TemplateConfig.fields,
  dtype: Schema.Literals(["float32", "bfloat16"]).pipe(withDefault("float32")),
  maxShardSize: ShardSize.pipe(withDefault("5GB"))
})

// Files the export writes itself; the rest of the tokenizer directory is copied as it is.
const written = /^(config\.json|.*\.safetensors|model\.safetensors\.index\.json|generation_config\.json|README\.md|tokenizer_config\.json|chat_template\.jinja)$/

const failure = (message: string, cause?: unknown) => new StageFailure({ stage: "export", message, cause })

const readJson = (file: string) =>
  Effect.tryPromise({
    try: async () => JSON.parse(await readFile(file, "utf8")) as Record<string, unknown>,
    catch: (cause) => failure(`${file}: ${(cause as Error).message}`, cause)
  })

const exists = (names: ReadonlyArray<string>, name: string) => names.includes(name)

export const exportModel = defineStage({
  name: "export",
  module: import.meta.url,
  reads: [],
  extraCode: ["./chat"],
  config: ExportConfig,
  inputs: {
    /** A model directory: config.json and safetensors (select-best's or train's model). */
    model: Files(),
    /** The base model directory, for its tokenizer files and template. */
    tokenizer: Files(),
    /** The evaluate stage's metrics, for the model card. */
    metrics: Optional(Table(evalMetricsSchema))
  },
  outputs: { model: Files() },
  run: (ctx) =>
    Effect.gen(function*() {
      const { config } = ctx
      const from = ctx.inputs.tokenizer.dir
      const weightsDir = ctx.inputs.model.dir
      const out = join(ctx.tmpDir, "model")
      yield* Effect.promise(() => mkdir(out))
      const names = yield* Effect.promise(() => readdir(from))
      for (const name of names) {
        if (!written.test(name)) yield* Effect.promise(() => copyFile(join(from, name), join(out, name)))
      }

      const loaded = yield* loadHfModel(weightsDir).pipe(Effect.mapError((e) => failure(e.message, e)))
      yield* exportHfModel(out, loaded, loaded.weights, { dtype: config.dtype, maxShardBytes: shardBytes(config.maxShardSize) }).pipe(
        Effect.mapError((e) => failure(e.message, e))
      )

      const choice = { template: config.template, templateName: config.templateName, kwargs: config.chatTemplateKwargs }
      const source = yield* Effect.try({ try: () => resolveTemplateSource(choice, from), catch: (e) => failure(`template: ${(e as Error).message}`, e) })
      const tokenizerConfig = exists(names, "tokenizer_config.json") ? yield* readJson(join(from, "tokenizer_config.json")) : {}
      // A chosen template replaces the directory's, where transformers looks for it: chat_template.jinja
      // when the directory has one (transformers >= 4.43 saves it there), else tokenizer_config.json.
      const jinja = exists(names, "chat_template.jinja")
      const template = config.template === undefined ? undefined : source.templateFor(false).source
      if (jinja) {
        const text = template ?? (yield* Effect.promise(() => readFile(join(from, "chat_template.jinja"), "utf8")))
        yield* Effect.promise(() => writeFile(join(out, "chat_template.jinja"), text))
      }
      const exportedTokenizerConfig = {
        ...tokenizerConfig,
        ...(template !== undefined && !jinja ? { chat_template: template } : {}),
        // transformers 5 rebuilds a LlamaTokenizer's pipeline instead of reading tokenizer.json, and
        // its ids then differ from the ones the model was trained on; the fast class reads the file.
        ...(exists(names, "tokenizer.json") ? { tokenizer_class: "PreTrainedTokenizerFast" } : {})
      }
      yield* Effect.promise(() => writeFile(join(out, "tokenizer_config.json"), JSON.stringify(exportedTokenizerConfig, null, 2) + "\n"))

      const encoder = loadEncoder(join(from, "tokenizer.json"))
      const chat = source.templateFor(false)
      const endOfTurn = config.endOfTurn ?? (yield* Effect.try({
        try: () => deriveEndOfTurn(chat, source.variables, source.specialTokens),
        catch: (e) => failure((e as Error).message, e)
      }))
      const id = (name: string) => stopTokensOf(encoder, [source.variables[name]])[0]
      const eos = stopTokensOf(encoder, [endOfTurn, source.variables.eos_token])
      if (eos.length === 0) return yield* Effect.fail(failure(`neither the end of turn ${JSON.stringify(endOfTurn)} nor eos_token is a single token: set endOfTurn`))
      const generation = {
        ...(id("bos_token") === undefined ? {} : { bos_token_id: id("bos_token") }),
        eos_token_id: eos.length === 1 ? eos[0] : eos,
        ...(id("pad_token") === undefined ? {} : { pad_token_id: id("pad_token") })
      }
      yield* Effect.promise(() => writeFile(join(out, "generation_config.json"), JSON.stringify(generation, null, 2) + "\n"))
      ctx.log(`end of turn ${JSON.stringify(endOfTurn)}: generation stops at token ids ${eos.join(", ")}`)

      const inputNames = yield* Effect.promise(() => readdir(weightsDir))
      const trainingArgs = exists(inputNames, "training_args.json") ? yield* readJson(join(weightsDir, "training_args.json")) : undefined
      const state = exists(inputNames, "trainer_state.json") ? yield* readJson(join(weightsDir, "trainer_state.json")) : undefined
      const baseName = loaded.json._name_or_path
      const parameters = Object.values(parameterShapes(loaded.config)).reduce((n, shape) => n + numel(shape), 0)
      const card = modelCard({
        architecture: loaded.architecture,
        parameters,
        baseModel: trainingArgs?.fromScratch === true || typeof baseName !== "string" || baseName === "" ? undefined : baseName,
        dtype: config.dtype,
        // A file of the base model's directory by its name there: the store path differs from run to run.
        templateOrigin: source.origin.startsWith(from) ? `the base model's ${relative(from, source.origin)}` : source.origin,
        trainingArgs,
        step: typeof state?.global_step === "number" ? state.global_step : undefined,
        metrics: ctx.inputs.metrics
      })
      yield* Effect.promise(() => writeFile(join(out, "README.md"), card))
      return { outputs: { model: { dir: out } }, metrics: { dtype: config.dtype, parameters } }
    })
})
