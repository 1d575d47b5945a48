/**
 * One dataset file → normalised conversations plus a report for every row that was rejected,
 * read piece by piece (formats/rawChunks.ts sniffs the file type and cuts the pieces).
 */
import { Effect } from "effect"
import type { Conversation } from "./conversation.ts"
import { DatasetError } from "./DatasetError.ts"
import { alpacaFormat } from "./alpaca.ts"
import { isRecord } from "./fields.ts"
import type { FormatName, FormatOptions, RowFormat } from "./format.ts"
import { messagesFormat } from "./messages.ts"
import { promptCompletionFormat } from "./promptCompletion.ts"
import type { DatasetInput } from "./rawChunks.ts"
import { rawChunks } from "./rawChunks.ts"
import type { RawRows } from "./rawRows.ts"
import { makeReplacer } from "./replace.ts"
import type { RowReport } from "./report.ts"
import { formatReport, typeName } from "./report.ts"
import { sharegptFormat } from "./sharegpt.ts"

/** Detection tries formats in this order; `messages` and `conversations` are the most specific keys. */
const formats: ReadonlyArray<RowFormat> = [messagesFormat, sharegptFormat, alpacaFormat, promptCompletionFormat]

/** How to read rows. */
export interface DatasetOptions extends FormatOptions {
  readonly format: FormatName | "auto"
  readonly replace: Readonly<Record<string, string>>
}

/** A conversation and the `file:line` it came from. */
export interface LoadedRow {
  readonly conversation: Conversation
  readonly source: string
}

/** Everything learnt from one file but its rows. */
export interface DatasetSummary {
  readonly format: FormatName
  readonly reports: ReadonlyArray<RowReport>
  /** Rows in the file, including those that could not be parsed. */
  readonly rowsRead: number
  readonly rowsInvalid: number
  /** Blank lines skipped (JSON Lines). */
  readonly blankLines: number
  /** Rows in which each key no format reads was seen. */
  readonly unknownKeys: ReadonlyMap<string, number>
  readonly replacements: number
}

/** Everything learnt from one file. */
export interface DatasetRead extends DatasetSummary {
  readonly rows: ReadonlyArray<LoadedRow>
}

const noFormat = (raws: ReadonlyArray<RawRows>, options: FormatOptions, fileName: string): DatasetError => {
  const unreadable = raws.flatMap((raw) => raw.reports)
  const first = unreadable[0]
  const unread = first === undefined ? "" : ` (${unreadable.length} rows could not be read, the first: ${formatReport(first)})`
  return new DatasetError({
    file: fileName,
    message: `${fileName}: cannot detect the format: no row has "messages", "conversations", "instruction"+"output" ` +
      `or "${options.promptField}"+"${options.completionField}"${unread}; set format (and promptField/completionField)`
  })
}

const detected = (raw: RawRows, options: FormatOptions): RowFormat | undefined => {
  for (const row of raw.rows) {
    if (!isRecord(row.value)) continue
    const found = formats.find((format) => format.matches(row.value as Record<string, unknown>, options))
    if (found !== undefined) return found
  }
  return undefined
}

const asDatasetError = (fileName: string) => (cause: unknown): DatasetError =>
  cause instanceof DatasetError
    ? cause
    : new DatasetError({ file: fileName, message: `${fileName}: ${cause instanceof Error ? cause.message : String(cause)}`, cause })

/**
 * Reads and normalises one file piece by piece, handing each piece's valid rows to `onRows` in
 * file order, and returns what was learnt. `format` overrides detection (the validation file
 * reuses train's); detection reads pieces until a row has a format's keys.
 */
export const scanDataset = <E>(
  input: DatasetInput,
  options: DatasetOptions,
  onRows: (rows: Array<LoadedRow>) => Effect.Effect<void, E>,
  chunkBytes?: number
): Effect.Effect<DatasetSummary, DatasetError | E> =>
  Effect.suspend(() => {
    const fileName = input.name
    const chunks = rawChunks(input, chunkBytes)
    const next = Effect.tryPromise({ try: () => chunks.next(), catch: asDatasetError(fileName) })
    return Effect.gen(function*() {
      const held: Array<RawRows> = []
      let format = options.format === "auto" ? undefined : formats.find((f) => f.name === options.format)!
      let done = false
      while (format === undefined) {
        const chunk = yield* next
        if (chunk.done === true) return yield* noFormat(held, options, fileName)
        held.push(chunk.value)
        format = detected(chunk.value, options)
      }
      const replacer = makeReplacer(options.replace)
      const reports: Array<RowReport> = []
      const unknownKeys = new Map<string, number>()
      const summary = { rowsRead: 0, rowsInvalid: 0, blankLines: 0, replacements: 0 }
      const normalise = (raw: RawRows): Array<LoadedRow> => {
        const rows: Array<LoadedRow> = []
        const found: Array<RowReport> = [...raw.reports]
        summary.rowsRead += raw.rows.length + raw.reports.length
        summary.rowsInvalid += raw.reports.length
        summary.blankLines += raw.blankLines ?? 0
        for (const row of raw.rows) {
          if (!isRecord(row.value)) {
            summary.rowsInvalid++
            found.push({ location: row.location, field: "", kind: "not_an_object", reason: `expected a JSON object, got ${typeName(row.value)}` })
            continue
          }
          const normalised = format!.normalise(row.value, options)
          for (const key of new Set(normalised.unknownKeys)) unknownKeys.set(key, (unknownKeys.get(key) ?? 0) + 1)
          if (normalised.conversation === undefined) {
            summary.rowsInvalid++
            for (const issue of normalised.issues) found.push({ location: row.location, ...issue })
            continue
          }
          const replaced = replacer.apply(normalised.conversation)
          summary.replacements += replaced.count
          rows.push({ conversation: replaced.conversation, source: row.location })
        }
        // Parse failures and format issues are collected apart; users read them in file order (sort
        // is stable). Pieces come in file order, so sorting each sorts them all.
        found.sort(inFileOrder(fileName))
        appendTo(reports, found)
        return rows
      }
      for (const raw of held.splice(0)) yield* onRows(normalise(raw))
      while (!done) {
        const chunk = yield* next
        if (chunk.done === true) done = true
        else yield* onRows(normalise(chunk.value))
      }
      return { format: format.name, reports, unknownKeys, ...summary }
    }).pipe(Effect.ensuring(Effect.promise(() => chunks.return(undefined))))
  })

/**
 * Appends `items` to `target` one by one: a piece of 4 MiB can hold more rows than a spread
 * `push(...items)` takes arguments (about 120k, then "Maximum call stack size exceeded").
 */
export const appendTo = <A>(target: Array<A>, items: ReadonlyArray<A>): void => {
  for (const item of items) target.push(item)
}

/** Reads and normalises one file held in memory. `format` overrides detection. */
export const readDataset = (
  bytes: Uint8Array,
  fileName: string,
  options: DatasetOptions
): Effect.Effect<DatasetRead, DatasetError> => {
  const rows: Array<LoadedRow> = []
  return scanDataset({ name: fileName, bytes }, options, (piece) => Effect.sync(() => appendTo(rows, piece))).pipe(
    Effect.map((summary) => ({ ...summary, rows }))
  )
}

/** Orders reports at `file:line`, `file:line:column` (JSON array elements sharing a line) or `file:row n`. */
const inFileOrder = (fileName: string) => {
  const position = (location: string): [number, number] => {
    const [line, column] = location.slice(fileName.length + 1).replace(/^row /, "").split(":").map(Number)
    return [line || 0, column || 0]
  }
  return (a: RowReport, b: RowReport): number => {
    const [lineA, columnA] = position(a.location)
    const [lineB, columnB] = position(b.location)
    return lineA - lineB || columnA - columnB
  }
}
