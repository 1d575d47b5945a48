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
import { readFileSync } from "node:fs"
import { Blob, defineStage, StageFailure, Table, tableFrom, withDefault } from "../src/index.ts"
import { inspectTokens } from "./chat/inspectTokens.ts"
import type { Masked, MaskOptions } from "./chat/mask.ts"
import { tokenizeAndMask } from "./chat/mask.ts"
import type { Span } from "./chat/spans.ts"
import { specialTokenAdditions } from "./chat/specialTokens.ts"
import { TokenEncoder } from "./chat/TokenEncoder.ts"
import { int32ListData } from "./schemas/int32Lists.ts"
import { renderedSchema } from "./schemas/rendered.ts"
import type { RenderedColumns } from "./schemas/rendered.ts"
import { readTokenizedRows, tokenizedSchema } from "./schemas/tokenized.ts"
import type { TokenizedColumns } from "./schemas/tokenized.ts"

export { tokenizedSchema } from "./schemas/tokenized.ts"
export type { TokenizedColumns } from "./schemas/tokenized.ts"

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

/** Loads an encoder from a tokenizer.json file. */
export const loadEncoder = (path: string): TokenEncoder =>
  new TokenEncoder(JSON.parse(readFileSync(path, "utf8")) as object, {})

/** The outcome counts of a tokenize run, as stage metrics. */
interface TokenizeCounts {
  examples: number
  tokens: number
  trainedTokens: number
  truncated: number
  droppedTooLong: number
  skippedNoTrainedTokens: number
}

/** Tokenizes rendered rows; reports each dropped or skipped row through `report`. */
export const tokenizeRows = (
  encoder: TokenEncoder,
  rows: Iterable<{ readonly text: string; readonly spans: ReadonlyArray<Span>; readonly source: string }>,
  options: MaskOptions & { readonly onEmpty: "error" | "skip" },
  report: (line: string) => void
): { readonly examples: Array<{ inputIds: Int32Array; labels: Int32Array; source: string }>; readonly counts: TokenizeCounts } => {
  const additions = specialTokenAdditions(encoder.tokenizer)
  const counts: TokenizeCounts = { examples: 0, tokens: 0, trainedTokens: 0, truncated: 0, droppedTooLong: 0, skippedNoTrainedTokens: 0 }
  const examples: Array<{ inputIds: Int32Array; labels: Int32Array; source: string }> = []
  for (const row of rows) {
    let masked: Masked
    try {
      masked = tokenizeAndMask(encoder, additions, row.text, row.spans, options)
    } catch (error) {
      throw new Error(`${row.source}: ${error instanceof Error ? error.message : String(error)}`)
    }
    switch (masked.kind) {
      case "too_long":
        counts.droppedTooLong++
        report(`${row.source}: dropped: ${masked.length} tokens > maxSeqLength ${options.maxSeqLength}`)
        break
      case "no_trained_tokens": {
        const why = `no trained tokens${masked.truncated ? " after truncation" : ""} (mode ${options.mode})`
        if (options.onEmpty === "error") throw new Error(`${row.source}: ${why}; set onEmpty: "skip" to skip such rows`)
        counts.skippedNoTrainedTokens++
        report(`${row.source}: skipped: ${why}`)
        break
      }
      case "example":
        counts.examples++
        counts.tokens += masked.inputIds.length
        counts.trainedTokens += masked.trained
        if (masked.truncated) counts.truncated++
        examples.push({ inputIds: masked.inputIds, labels: masked.labels, source: row.source })
    }
  }
  return { examples, counts }
}

/** Rows of the rendered table as plain objects. */
function* renderedRows(table: arrow.Table<RenderedColumns>) {
  const text = table.getChild("text")!
  const spans = table.getChild("spans")!
  const source = table.getChild("source")!
  for (let i = 0; i < table.numRows; i++) {
    const list = spans.get(i)
    const rowSpans: Array<Span> = []
    if (list !== null) {
      for (const s of list) rowSpans.push({ start: s!.start, end: s!.end, turn: s!.turn })
    }
    yield { text: text.get(i)!, spans: rowSpans, source: source.get(i)! }
  }
}

/** Builds the tokenized table. */
const toTokenizedTable = (
  examples: ReadonlyArray<{ inputIds: Int32Array; labels: Int32Array; source: string }>
): arrow.Table<TokenizedColumns> =>
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
  inputs: { rows: Table(renderedSchema), tokenizer: Blob() },
  outputs: { tokens: Table(tokenizedSchema) },
  run: (ctx) =>
    Effect.try({
      try: () => {
        const encoder = loadEncoder(ctx.inputs.tokenizer.path)
        const { examples, counts } = tokenizeRows(encoder, renderedRows(ctx.inputs.rows), ctx.config, ctx.log)
        return { outputs: { tokens: toTokenizedTable(examples) }, metrics: { ...counts } }
      },
      catch: failure
    }),
  inspect: (ctx) =>
    Effect.try({
      try: () => {
        const rows = readTokenizedRows(ctx.outputs.tokens.slice(0, ctx.rows))
        return inspectTokens(loadEncoder(ctx.inputs.tokenizer.path).tokenizer, rows, { rows: ctx.rows, color: ctx.color })
      },
      catch: failure
    })
})
