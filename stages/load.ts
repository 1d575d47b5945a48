/**
 * load: dataset files (JSONL, JSON, Parquet, Arrow IPC) in any of the supported row formats →
 * normalised conversations (contract C), split into train and validation.
 *
 * Nothing is dropped silently: every rejected row is reported as `file:line: field: reason`; with
 * `onInvalid: "error"` (the default) any report fails the stage, with `"skip"` the rows are dropped
 * and counted in the metrics (`rowsSkipped`, `invalid.<kind>`) and the reports are logged. Keys no
 * format reads are counted too (`unknownKeys.<key>`), and blank lines of JSON Lines (`blankLines`).
 * A line with an invalid UTF-8 byte is one invalid row (`invalid.invalid_utf8`), not a bad file; so
 * are an empty assistant reply and a conversation whose last turn is not the assistant's.
 *
 * A `--sanity` run keeps the first `sanityExamples` valid rows of each file.
 *
 * GSM8K (`{question, answer}`): `{ ...gsm8k }` from ./formats/promptCompletion.ts, i.e.
 * `format: "prompt_completion", promptField: "question", completionField: "answer"`.
 */
import { readFile } from "node:fs/promises"
import { Effect, Schema } from "effect"
import type { BlobRef } from "../src/index.ts"
import { Blob, defineStage, Optional, StageFailure, Table, withDefault } from "../src/index.ts"
import { toConversationTable } from "./formats/conversationTable.ts"
import { conversationSchema } from "./schemas/conversation.ts"
import { formatNames } from "./formats/format.ts"
import { inspectConversations } from "./formats/inspectConversations.ts"
import type { DatasetOptions, DatasetRead, LoadedRow } from "./formats/readDataset.ts"
import { readDataset } from "./formats/readDataset.ts"
import { formatReport } from "./formats/report.ts"
import { splitByFraction } from "./formats/split.ts"

export { conversationSchema } from "./schemas/conversation.ts"
export { gsm8k } from "./formats/promptCompletion.ts"

/** The load stage's config. */
export const LoadConfig = Schema.Struct({
  /** Row format; "auto" detects it from the first row that has a format's keys. */
  format: Schema.Literals(["auto", ...formatNames]).pipe(withDefault("auto")),
  /** prompt_completion field names (GSM8K: question / answer). */
  promptField: Schema.String.pipe(withDefault("prompt")),
  completionField: Schema.String.pipe(withDefault("completion")),
  /** What an invalid row does: fail the stage with every report, or drop it and count it. */
  onInvalid: Schema.Literals(["error", "skip"]).pipe(withDefault("error")),
  /** Fraction of train rows moved to validation when no validation file is wired. */
  validationFraction: Schema.Finite.check(Schema.isBetween({ minimum: 0, maximum: 1, exclusiveMaximum: true })).pipe(
    withDefault(0)
  ),
  /** Seed of the validation split; defaults to the stage seed (derived from the run seed), like HF's data_seed. */
  dataSeed: Schema.optionalKey(Schema.Int.check(Schema.isGreaterThanOrEqualTo(0))),
  /** Literal replacements in every message's content, e.g. `{ "{{name}}": "Ada" }` for identity.json. */
  replace: Schema.Record(Schema.String, Schema.String).pipe(withDefault({})),
  /** How many reports the failure message lists before "... and N more". */
  maxReports: Schema.Int.check(Schema.isGreaterThanOrEqualTo(1)).pipe(withDefault(20)),
  /** A `--sanity` run keeps the first this many valid rows of each file (the TRL chapter's 50 to 100). */
  sanityExamples: Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 100_000 })).pipe(withDefault(100))
})

/** The decoded config. */
export type LoadConfig = typeof LoadConfig.Type

/** A dataset file's bytes and the name reports use. */
export interface DatasetFile {
  readonly bytes: Uint8Array
  readonly name: string
}

/** What loading produced, before it becomes tables. */
export interface Loaded {
  readonly train: ReadonlyArray<LoadedRow>
  readonly validation: ReadonlyArray<LoadedRow>
  readonly metrics: Readonly<Record<string, number | string>>
  /** Lines for the stage log: skipped rows' reports and ignored keys. */
  readonly log: ReadonlyArray<string>
}

const failure = (message: string, cause?: unknown) => new StageFailure({ stage: "load", message, cause })

/** `invalid.<kind>`: reports per kind; `unknownKeys.<key>`: rows holding a key no format reads. */
const countMetrics = (reads: ReadonlyArray<DatasetRead>): Record<string, number> => {
  const counts: Record<string, number> = {}
  const add = (name: string, n: number) => (counts[name] = (counts[name] ?? 0) + n)
  for (const read of reads) {
    for (const report of read.reports) add(`invalid.${report.kind}`, 1)
    for (const [key, rows] of read.unknownKeys) add(`unknownKeys.${key}`, rows)
  }
  return counts
}

/**
 * Reads the train file (and the validation file when given), applies the invalid-row policy and
 * the seeded split. `seed` is used when the config has no `dataSeed`.
 */
export const loadDatasets = (
  files: { readonly train: DatasetFile; readonly validation?: DatasetFile | undefined },
  config: LoadConfig,
  seed: number,
  sanity = false
): Effect.Effect<Loaded, StageFailure> =>
  Effect.gen(function*() {
    if (files.validation !== undefined && config.validationFraction > 0) {
      return yield* failure("validationFraction and a validation file were both given; use one of them")
    }
    const options: DatasetOptions = config
    const train = yield* readDataset(files.train.bytes, files.train.name, options)
    const validation = files.validation === undefined
      ? undefined
      : yield* readDataset(files.validation.bytes, files.validation.name, { ...options, format: train.format })
    const reads = validation === undefined ? [train] : [train, validation]
    const reports = reads.flatMap((read) => read.reports)
    const rowsRead = reads.reduce((sum, read) => sum + read.rowsRead, 0)
    const rowsInvalid = reads.reduce((sum, read) => sum + read.rowsInvalid, 0)
    if (reports.length > 0 && config.onInvalid === "error") {
      const listed = reports.slice(0, config.maxReports).map(formatReport)
      const more = reports.length > listed.length ? [`... and ${reports.length - listed.length} more`] : []
      return yield* failure(
        [
          `${rowsInvalid} of ${rowsRead} rows are invalid (onInvalid: "error"; set onInvalid: "skip" to drop and count them):`,
          ...listed,
          ...more
        ].join("\n")
      )
    }
    const kept = (rows: ReadonlyArray<LoadedRow>) => (sanity ? rows.slice(0, config.sanityExamples) : rows)
    const split = validation === undefined
      ? splitByFraction(kept(train.rows), config.validationFraction, config.dataSeed ?? seed)
      : { train: kept(train.rows), validation: kept(validation.rows) }
    if (split.train.length === 0) {
      return yield* failure(`${files.train.name}: no valid rows left for training (${rowsRead} read, ${rowsInvalid} invalid)`)
    }
    const metrics = {
      format: train.format,
      rowsRead,
      rowsSkipped: rowsInvalid,
      blankLines: reads.reduce((sum, read) => sum + read.blankLines, 0),
      rowsTrain: split.train.length,
      rowsValidation: split.validation.length,
      replacements: reads.reduce((sum, read) => sum + read.replacements, 0),
      ...(sanity ? { sanityExamples: config.sanityExamples } : {}),
      ...countMetrics(reads)
    }
    const ignored = reads.flatMap((read) =>
      [...read.unknownKeys].map(([key, rows]) => `ignored key "${key}" (not read by the ${read.format} format) in ${rows} rows`)
    )
    return { train: split.train, validation: split.validation, metrics, log: [...reports.map(formatReport), ...ignored] }
  }).pipe(Effect.catchTag("DatasetError", (error) => Effect.fail(failure(error.message, error))))

const readBlob = (blob: BlobRef): Effect.Effect<DatasetFile, StageFailure> =>
  Effect.tryPromise({
    try: () => readFile(blob.path),
    catch: (cause) => failure(`${blob.name}: cannot read: ${String(cause)}`, cause)
  }).pipe(Effect.map((bytes) => ({ bytes, name: blob.name })))

/** The load stage: `train` (required) and `validation` (optional) files → two conversation tables. */
export const load = defineStage({
  name: "load",
  module: import.meta.url,
  reads: (config) => (config.dataSeed === undefined ? ["seed", "sanity"] : ["sanity"]),
  config: LoadConfig,
  inputs: { train: Blob(), validation: Optional(Blob()) },
  outputs: { train: Table(conversationSchema), validation: Table(conversationSchema) },
  run: (ctx) =>
    Effect.gen(function*() {
      const train = yield* readBlob(ctx.inputs.train)
      const validation = ctx.inputs.validation === undefined ? undefined : yield* readBlob(ctx.inputs.validation)
      const loaded = yield* loadDatasets({ train, validation }, ctx.config, ctx.config.dataSeed ?? ctx.seed, ctx.sanity)
      for (const line of loaded.log) ctx.log(line)
      if (ctx.sanity) ctx.log(`sanity check: the first ${ctx.config.sanityExamples} valid rows of each file`)
      return {
        outputs: { train: toConversationTable(loaded.train), validation: toConversationTable(loaded.validation) },
        metrics: loaded.metrics
      }
    }),
  inspect: (ctx) =>
    Effect.succeed(
      [
        inspectConversations("train", ctx.outputs.train, ctx.rows, ctx.color),
        inspectConversations("validation", ctx.outputs.validation, ctx.rows, ctx.color)
      ].join("\n\n")
    )
})
