/**
 * tokenize: rendered conversations → `input_ids` and `labels` (−100 except on trained tokens).
 *
 * Tokens come from the model's tokenizer.json through `@huggingface/tokenizers` (equal to HF
 * `tokenizers` on the shared goldens); a token is trained when it overlaps a trained span of the
 * template stage (chat/TokenEncoder.ts maps spans to tokens). Modes: `assistant_only` (every
 * assistant turn), `completion_only` (the last one), `all`. What the tokenizer's post-processor adds
 * (a BOS) is added unless the template already wrote it. Examples longer than `maxSeqLength` are
 * dropped (default: a cut-off answer would teach the model not to stop) or truncated on the left or
 * right; examples with no trained token fail the stage or are skipped, counted and logged by row.
 */
import * as arrow from "apache-arrow"
import { Effect, Schema } from "effect"
import { Blob, defineStage, StageFailure, StreamedTable, tableFrom, TableWriter, withDefault } from "../src/index.ts"
import { inspectTokens } from "./chat/inspectTokens.ts"
import { count, loadEncoder, noCounts } from "./chat/tokenizeRows.ts"
import type { RenderedRow, RowOutcome, TokenizeOptions } from "./chat/tokenizeRows.ts"
import type { Span } from "./chat/spans.ts"
import { int32ListData } from "./schemas/int32Lists.ts"
import { renderedSchema } from "./schemas/rendered.ts"
import type { RenderedColumns } from "./schemas/rendered.ts"
import { readTokenizedRows, tokenizedSchema } from "./schemas/tokenized.ts"
import type { TokenizedColumns, TokenizedRow } from "./schemas/tokenized.ts"
import { forEachChunk } from "./workers/chunks.ts"
import * as tokenizeTask from "./workers/tokenizeTask.ts"
import { WorkerPool } from "./workers/WorkerPool.ts"

export { tokenizedSchema } from "./schemas/tokenized.ts"
export type { TokenizedColumns } from "./schemas/tokenized.ts"
export { loadEncoder, tokenizeRows } from "./chat/tokenizeRows.ts"

/** The tokenize stage's config. */
export const TokenizeConfig = Schema.Struct({
  mode: Schema.Literals(["assistant_only", "completion_only", "all"]).pipe(withDefault("assistant_only")),
  maxSeqLength: Schema.optionalKey(Schema.Int.check(Schema.isGreaterThanOrEqualTo(1))),
  truncation: Schema.Literals(["drop", "left", "right"]).pipe(withDefault("drop")),
  /** An example with no trained token: fail the stage, or skip it (counted, logged with its row). */
  onEmpty: Schema.Literals(["error", "skip"]).pipe(withDefault("error")),
  /** Add the post-processor's special tokens (a BOS) unless the text already starts with them. */
  addSpecialTokens: Schema.Boolean.pipe(withDefault(true))
})

/** The rows of a batch of the rendered table as plain objects. */
function* renderedRows(batch: arrow.RecordBatch<RenderedColumns> | arrow.Table<RenderedColumns>): Generator<RenderedRow> {
  const text = batch.getChild("text")!
  const spans = batch.getChild("spans")!
  const source = batch.getChild("source")!
  for (let i = 0; i < batch.numRows; i++) {
    const list = spans.get(i)
    const rowSpans: Array<Span> = []
    if (list !== null) {
      for (const s of list) rowSpans.push({ start: s!.start, end: s!.end, turn: s!.turn })
    }
    yield { text: text.get(i)!, spans: rowSpans, source: source.get(i)! }
  }
}

/** Builds a tokenized table of at most one stored batch. */
export const toTokenizedTable = (examples: ReadonlyArray<TokenizedRow>): arrow.Table<TokenizedColumns> =>
  tableFrom(tokenizedSchema, {
    input_ids: arrow.makeVector(int32ListData(examples.map((e) => e.inputIds))),
    labels: arrow.makeVector(int32ListData(examples.map((e) => e.labels))),
    source: examples.map((e) => e.source)
  })

const failure = (error: unknown) =>
  new StageFailure({ stage: "tokenize", message: error instanceof Error ? error.message : String(error), cause: error })

export const tokenize = defineStage({
  name: "tokenize",
  module: import.meta.url,
  reads: [],
  config: TokenizeConfig,
  inputs: { rows: StreamedTable(renderedSchema), tokenizer: Blob() },
  outputs: { tokens: StreamedTable(tokenizedSchema) },
  run: (ctx) =>
    Effect.gen(function*() {
      const options: TokenizeOptions = ctx.config
      const init: tokenizeTask.TokenizeInit = { tokenizerPath: ctx.inputs.tokenizer.path, options }
      const pool = yield* Effect.acquireRelease(
        Effect.tryPromise({ try: () => WorkerPool.start(new URL("./workers/tokenizeTask.ts", import.meta.url).href, tokenizeTask, init, ctx.workers), catch: failure }),
        (pool) => Effect.promise(() => pool.close())
      )
      const writer = new TableWriter(ctx.tmpDir, tokenizedSchema, toTokenizedTable)
      const counts = noCounts()
      yield* forEachChunk(
        ctx.inputs.rows,
        ctx.batchSize,
        renderedRows,
        (rows) =>
          Effect.tryPromise({ try: () => pool.map(rows), catch: failure }).pipe(
            Effect.map((outcomes: Array<RowOutcome>) => {
              const examples: Array<TokenizedRow> = []
              outcomes.forEach((outcome, i) => {
                count(counts, outcome)
                if (outcome.kind === "example") examples.push({ inputIds: outcome.inputIds, labels: outcome.labels, source: rows[i]!.source })
                else ctx.log(outcome.line)
              })
              writer.append(examples)
            })
          ),
        ctx.progress,
        failure
      )
      return { outputs: { tokens: writer.finish() }, metrics: { ...counts } }
    }),
  inspect: (ctx) =>
    Effect.tryPromise({
      try: async () => {
        const rows = readTokenizedRows(await ctx.outputs.tokens.head(ctx.rows))
        return inspectTokens(loadEncoder(ctx.inputs.tokenizer.path).tokenizer, rows, { rows: ctx.rows, color: ctx.color })
      },
      catch: failure
    })
})
