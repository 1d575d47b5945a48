/**
 * Tokenizing rendered rows: each row's outcome (an example, a drop, a skip) and the counts the
 * tokenize stage reports. Apart from the stage so worker threads load only this.
 */
import { readFileSync } from "node:fs"
import type { Masked, MaskOptions } from "./mask.ts"
import { tokenizeAndMask } from "./mask.ts"
import type { Span } from "./spans.ts"
import { specialTokenAdditions } from "./specialTokens.ts"
import { TokenEncoder } from "./TokenEncoder.ts"

/** Loads an encoder from a tokenizer.json file. */
export const loadEncoder = (path: string): TokenEncoder =>
  new TokenEncoder(JSON.parse(readFileSync(path, "utf8")) as object, {})

/** A rendered row as tokenize reads it. */
export interface RenderedRow {
  readonly text: string
  readonly spans: ReadonlyArray<Span>
  readonly source: string
}

/** How to tokenize. */
export type TokenizeOptions = MaskOptions & { readonly onEmpty: "error" | "skip" }

/** What became of one row: an example, or a line saying why it was dropped or skipped. */
export type RowOutcome =
  | { readonly kind: "example"; readonly inputIds: Int32Array; readonly labels: Int32Array; readonly trained: number; readonly truncated: boolean }
  | { readonly kind: "droppedTooLong" | "skippedNoTrainedTokens"; readonly line: string }

/** The outcome counts of a tokenize run, as stage metrics. */
export interface TokenizeCounts {
  examples: number
  tokens: number
  trainedTokens: number
  truncated: number
  droppedTooLong: number
  skippedNoTrainedTokens: number
}

/** Zero counts. */
export const noCounts = (): TokenizeCounts => ({
  examples: 0,
  tokens: 0,
  trainedTokens: 0,
  truncated: 0,
  droppedTooLong: 0,
  skippedNoTrainedTokens: 0
})

/** Adds one outcome to `counts`. */
export const count = (counts: TokenizeCounts, outcome: RowOutcome): void => {
  if (outcome.kind !== "example") {
    counts[outcome.kind]++
    return
  }
  counts.examples++
  counts.tokens += outcome.inputIds.length
  counts.trainedTokens += outcome.trained
  if (outcome.truncated) counts.truncated++
}

/** A tokenizer of rows; throws `file:line: why` for a row that fails the stage. */
export const rowTokenizer = (encoder: TokenEncoder, options: TokenizeOptions) => {
  const additions = specialTokenAdditions(encoder.tokenizer)
  return (row: RenderedRow): RowOutcome => {
    let masked: Masked
    try {
      masked = tokenizeAndMask(encoder, additions, row.text, row.spans, options)
    } catch (error) {
      throw new Error(`${row.source}: ${error instanceof Error ? error.message : String(error)}`)
    }
    switch (masked.kind) {
      case "too_long":
        return { kind: "droppedTooLong", line: `${row.source}: dropped: ${masked.length} tokens > maxSeqLength ${options.maxSeqLength}` }
      case "no_trained_tokens": {
        const why = `no trained tokens${masked.truncated ? " after truncation" : ""} (mode ${options.mode})`
        if (options.onEmpty === "error") throw new Error(`${row.source}: ${why}; set onEmpty: "skip" to skip such rows`)
        return { kind: "skippedNoTrainedTokens", line: `${row.source}: skipped: ${why}` }
      }
      case "example":
        return { kind: "example", inputIds: masked.inputIds, labels: masked.labels, trained: masked.trained, truncated: masked.truncated }
    }
  }
}

/** Tokenizes rendered rows; reports each dropped or skipped row through `report`. */
export const tokenizeRows = (
  encoder: TokenEncoder,
  rows: Iterable<RenderedRow>,
  options: TokenizeOptions,
  report: (line: string) => void
): { readonly examples: Array<{ inputIds: Int32Array; labels: Int32Array; source: string }>; readonly counts: TokenizeCounts } => {
  const tokenizeRow = rowTokenizer(encoder, options)
  const counts = noCounts()
  const examples: Array<{ inputIds: Int32Array; labels: Int32Array; source: string }> = []
  for (const row of rows) {
    const outcome = tokenizeRow(row)
    count(counts, outcome)
    if (outcome.kind === "example") examples.push({ inputIds: outcome.inputIds, labels: outcome.labels, source: row.source })
    else report(outcome.line)
  }
  return { examples, counts }
}
