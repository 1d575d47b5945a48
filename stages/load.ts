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
import { Effect, Schema } from "effect"
import type { BlobRef } from "../src/index.ts"
import { Blob, defineStage, Optional, StageFailure, StreamedTable, TableReader, TableWriter, withDefault } from "../src/index.ts"
import { loadedRows, toConversationTable } from "./formats/conversationTable.ts"
import { conversationSchema } from "./schemas/conversation.ts"
import type { ConversationColumns } from "./schemas/conversation.ts"
import { formatNames } from "./formats/format.ts"
import { inspectConversations } from "./formats/inspectConversations.ts"
import type { DatasetInput } from "./formats/rawChunks.ts"
import type { DatasetOptions, DatasetSummary, LoadedRow } from "./formats/readDataset.ts"
import { appendTo, scanDataset } from "./formats/readDataset.ts"
import { formatReport } from "./formats/report.ts"
import { validationIndices } from "./formats/split.ts"

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

/** A dataset file held in memory, and the name reports use. */
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

/** Where loaded rows go, a piece at a time and in file order. */
export interface LoadSinks {
  readonly train: (rows: ReadonlyArray<LoadedRow>) => void
  readonly validation: (rows: ReadonlyArray<LoadedRow>) => void
  /** Holds the train rows while the split does not know how many there are. */
  readonly hold: (rows: ReadonlyArray<LoadedRow>) => void
  /** The held rows, in order, a piece at a time. */
  readonly replay: () => AsyncIterable<ReadonlyArray<LoadedRow>>
}

const failure = (message: string, cause?: unknown) => new StageFailure({ stage: "load", message, cause })

/** `invalid.<kind>`: reports per kind; `unknownKeys.<key>`: rows holding a key no format reads. */
const countMetrics = (reads: ReadonlyArray<DatasetSummary>): Record<string, number> => {
  const counts: Record<string, number> = {}
  const add = (name: string, n: number) => (counts[name] = (counts[name] ?? 0) + n)
  for (const read of reads) {
    for (const report of read.reports) add(`invalid.${report.kind}`, 1)
    for (const [key, rows] of read.unknownKeys) add(`unknownKeys.${key}`, rows)
  }
  return counts
}

/** At most `limit` rows in all go to `sink` (a `--sanity` run keeps the first rows of each file). */
const capped = (sink: (rows: ReadonlyArray<LoadedRow>) => void, limit: number) => {
  let kept = 0
  return {
    add: (rows: ReadonlyArray<LoadedRow>) => {
      const taken = rows.length <= limit - kept ? rows : rows.slice(0, Math.max(0, limit - kept))
      kept += taken.length
      if (taken.length > 0) sink(taken)
    },
    get kept() {
      return kept
    }
  }
}

/**
 * Reads the train file (and the validation file when given) piece by piece into `sinks`, applies
 * the invalid-row policy and the seeded split. `seed` is used when the config has no `dataSeed`.
 * With a `validationFraction` the train rows are held (`sinks.hold`) until their count is known.
 */
export const loadInto = (
  files: { readonly train: DatasetInput; readonly validation?: DatasetInput | undefined },
  config: LoadConfig,
  seed: number,
  sanity: boolean,
  sinks: LoadSinks,
  chunkBytes?: number
): Effect.Effect<{ readonly metrics: Readonly<Record<string, number | string>>; readonly log: ReadonlyArray<string> }, StageFailure> =>
  Effect.gen(function*() {
    if (files.validation !== undefined && config.validationFraction > 0) {
      return yield* failure("validationFraction and a validation file were both given; use one of them")
    }
    const limit = sanity ? config.sanityExamples : Infinity
    const splitLater = files.validation === undefined && config.validationFraction > 0
    const train = capped(splitLater ? sinks.hold : sinks.train, limit)
    const options: DatasetOptions = config
    const add = (sink: { add: (rows: ReadonlyArray<LoadedRow>) => void }) => (rows: ReadonlyArray<LoadedRow>) => Effect.sync(() => sink.add(rows))
    const trainRead = yield* scanDataset(files.train, options, add(train), chunkBytes)
    const validation = capped(sinks.validation, limit)
    const validationRead = files.validation === undefined
      ? undefined
      : yield* scanDataset(files.validation, { ...options, format: trainRead.format }, add(validation), chunkBytes)
    const reads = validationRead === undefined ? [trainRead] : [trainRead, validationRead]
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
    let rowsTrain = train.kept
    let rowsValidation = validation.kept
    if (splitLater) {
      const chosen = validationIndices(train.kept, config.validationFraction, config.dataSeed ?? seed)
      let index = 0
      yield* Effect.tryPromise({
        try: async () => {
          for await (const rows of sinks.replay()) {
            const picked = rows.map(() => chosen.has(index++))
            sinks.train(rows.filter((_, i) => !picked[i]))
            sinks.validation(rows.filter((_, i) => picked[i]))
          }
        },
        catch: (cause) => failure(`splitting the train rows: ${cause instanceof Error ? cause.message : String(cause)}`, cause)
      })
      rowsTrain = train.kept - chosen.size
      rowsValidation = chosen.size
    }
    if (rowsTrain === 0) {
      return yield* failure(`${files.train.name}: no valid rows left for training (${rowsRead} read, ${rowsInvalid} invalid)`)
    }
    const metrics = {
      format: trainRead.format,
      rowsRead,
      rowsSkipped: rowsInvalid,
      blankLines: reads.reduce((sum, read) => sum + read.blankLines, 0),
      rowsTrain,
      rowsValidation,
      replacements: reads.reduce((sum, read) => sum + read.replacements, 0),
      ...(sanity ? { sanityExamples: config.sanityExamples } : {}),
      ...countMetrics(reads)
    }
    const ignored = reads.flatMap((read) =>
      [...read.unknownKeys].map(([key, rows]) => `ignored key "${key}" (not read by the ${read.format} format) in ${rows} rows`)
    )
    return { metrics, log: [...reports.map(formatReport), ...ignored] }
  }).pipe(Effect.catchTag("DatasetError", (error) => Effect.fail(failure(error.message, error))))

/** Loads files held in memory into arrays (what tests and small tools use). */
export const loadDatasets = (
  files: { readonly train: DatasetFile; readonly validation?: DatasetFile | undefined },
  config: LoadConfig,
  seed: number,
  sanity = false
): Effect.Effect<Loaded, StageFailure> => {
  const train: Array<LoadedRow> = []
  const validation: Array<LoadedRow> = []
  const held: Array<LoadedRow> = []
  const sinks: LoadSinks = {
    train: (rows) => appendTo(train, rows),
    validation: (rows) => appendTo(validation, rows),
    hold: (rows) => appendTo(held, rows),
    replay: async function*() {
      yield held
    }
  }
  return loadInto(files, config, seed, sanity, sinks).pipe(Effect.map((loaded) => ({ train, validation, ...loaded })))
}

/** A dataset input as the stage reads it: straight from its (verified) file in the store. */
const inputOf = (blob: BlobRef): DatasetInput => ({ path: blob.path, name: blob.name })

/** The load stage: `train` (required) and `validation` (optional) files → two conversation tables. */
export const load = defineStage({
  name: "load",
  module: import.meta.url,
  reads: (config) => (config.dataSeed === undefined ? ["seed", "sanity"] : ["sanity"]),
  config: LoadConfig,
  inputs: { train: Blob(), validation: Optional(Blob()) },
  outputs: { train: StreamedTable(conversationSchema), validation: StreamedTable(conversationSchema) },
  run: (ctx) =>
    Effect.gen(function*() {
      const writer = Effect.acquireRelease(
        Effect.sync(() => new TableWriter(ctx.tmpDir, conversationSchema, toConversationTable)),
        // Closes what was not finished: the held rows when there was no split, everything on failure.
        (opened) => Effect.sync(() => opened.abort())
      )
      const train = yield* writer
      const validation = yield* writer
      const held = yield* writer
      const sinks: LoadSinks = {
        train: (rows) => train.append(rows),
        validation: (rows) => validation.append(rows),
        hold: (rows) => held.append(rows),
        replay: async function*() {
          const reader = await TableReader.open<ConversationColumns>(held.finish().path)
          for await (const batch of reader.batches()) yield loadedRows(batch)
        }
      }
      const files = {
        train: inputOf(ctx.inputs.train),
        validation: ctx.inputs.validation === undefined ? undefined : inputOf(ctx.inputs.validation)
      }
      const loaded = yield* loadInto(files, ctx.config, ctx.config.dataSeed ?? ctx.seed, ctx.sanity, sinks)
      for (const line of loaded.log) ctx.log(line)
      if (ctx.sanity) ctx.log(`sanity check: the first ${ctx.config.sanityExamples} valid rows of each file`)
      return { outputs: { train: train.finish(), validation: validation.finish() }, metrics: loaded.metrics }
    }),
  inspect: (ctx) =>
    Effect.promise(async () => {
      const view = async (title: string, table: TableReader<ConversationColumns>) =>
        inspectConversations(title, await table.head(ctx.rows), await table.numRows(), ctx.rows, ctx.color)
      return [await view("train", ctx.outputs.train), await view("validation", ctx.outputs.validation)].join("\n\n")
    })
})
