/**
 * One dataset file → normalised conversations plus a report for every row that was rejected.
 * The file type is sniffed from the bytes (Parquet and Arrow magic, else JSON text), so a
 * `.json` file holding JSON Lines reads as well.
 */
import { Effect } from "effect"
import type { Conversation } from "./conversation.ts"
import { DatasetError } from "./DatasetError.ts"
import { alpacaFormat } from "./alpaca.ts"
import { readArrowIpc } from "./arrow.ts"
import { isRecord } from "./fields.ts"
import type { FormatName, FormatOptions, RowFormat } from "./format.ts"
import { readJsonArray } from "./json.ts"
import { readJsonl } from "./jsonl.ts"
import { messagesFormat } from "./messages.ts"
import { readParquet } from "./parquet.ts"
import { promptCompletionFormat } from "./promptCompletion.ts"
import type { RawRows } from "./rawRows.ts"
import { makeReplacer } from "./replace.ts"
import type { RowReport } from "./report.ts"
import { formatReport, typeName } from "./report.ts"
import { sharegptFormat } from "./sharegpt.ts"
import { decodeUtf8 } from "./utf8.ts"

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

/** Everything learnt from one file. */
export interface DatasetRead {
  readonly format: FormatName
  readonly rows: ReadonlyArray<LoadedRow>
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

type FileType = "parquet" | "arrow" | "json"

const startsWith = (bytes: Uint8Array, magic: ReadonlyArray<number>): boolean =>
  bytes.length >= magic.length && magic.every((byte, index) => bytes[index] === byte)

const sniff = (bytes: Uint8Array): FileType => {
  if (startsWith(bytes, [0x50, 0x41, 0x52, 0x31])) return "parquet" // "PAR1"
  if (startsWith(bytes, [0x41, 0x52, 0x52, 0x4f, 0x57, 0x31])) return "arrow" // "ARROW1", file format
  if (startsWith(bytes, [0xff, 0xff, 0xff, 0xff])) return "arrow" // continuation marker, stream format
  return "json"
}

const readText = (bytes: Uint8Array, fileName: string): Effect.Effect<RawRows, DatasetError> => {
  if (startsWith(bytes, [0x1f, 0x8b])) {
    return Effect.fail(new DatasetError({ file: fileName, message: `${fileName}: gzip-compressed; decompress it first` }))
  }
  const decoded = decodeUtf8(bytes)
  return decoded.text.trimStart().startsWith("[") ? readJsonArray(decoded, fileName) : Effect.succeed(readJsonl(decoded, fileName))
}

/** Reads the rows of a dataset file of any supported type. */
const readRawRows = (bytes: Uint8Array, fileName: string): Effect.Effect<RawRows, DatasetError> => {
  switch (sniff(bytes)) {
    case "parquet":
      return readParquet(bytes, fileName)
    case "arrow":
      return readArrowIpc(bytes, fileName)
    case "json":
      return readText(bytes, fileName)
  }
}

const detect = (raw: RawRows, options: FormatOptions, fileName: string): Effect.Effect<RowFormat, DatasetError> => {
  for (const row of raw.rows) {
    if (!isRecord(row.value)) continue
    const found = formats.find((format) => format.matches(row.value as Record<string, unknown>, options))
    if (found !== undefined) return Effect.succeed(found)
  }
  const first = raw.reports[0]
  const unread = first === undefined ? "" : ` (${raw.reports.length} rows could not be read, the first: ${formatReport(first)})`
  return Effect.fail(
    new DatasetError({
      file: fileName,
      message: `${fileName}: cannot detect the format: no row has "messages", "conversations", "instruction"+"output" ` +
        `or "${options.promptField}"+"${options.completionField}"${unread}; set format (and promptField/completionField)`
    })
  )
}

/** Reads and normalises one file. `format` overrides detection (the validation file reuses train's). */
export const readDataset = (
  bytes: Uint8Array,
  fileName: string,
  options: DatasetOptions
): Effect.Effect<DatasetRead, DatasetError> =>
  Effect.gen(function*() {
    const raw = yield* readRawRows(bytes, fileName)
    const format = options.format === "auto"
      ? yield* detect(raw, options, fileName)
      : formats.find((f) => f.name === options.format)!
    const replacer = makeReplacer(options.replace)
    const rows: Array<LoadedRow> = []
    const reports: Array<RowReport> = [...raw.reports]
    const unknownKeys = new Map<string, number>()
    let rowsInvalid = raw.reports.length
    let replacements = 0
    for (const row of raw.rows) {
      if (!isRecord(row.value)) {
        rowsInvalid++
        reports.push({ location: row.location, field: "", kind: "not_an_object", reason: `expected a JSON object, got ${typeName(row.value)}` })
        continue
      }
      const normalised = format.normalise(row.value, options)
      for (const key of new Set(normalised.unknownKeys)) unknownKeys.set(key, (unknownKeys.get(key) ?? 0) + 1)
      if (normalised.conversation === undefined) {
        rowsInvalid++
        for (const issue of normalised.issues) reports.push({ location: row.location, ...issue })
        continue
      }
      const replaced = replacer.apply(normalised.conversation)
      replacements += replaced.count
      rows.push({ conversation: replaced.conversation, source: row.location })
    }
    // Parse failures and format issues are collected apart; users read them in file order (sort is stable).
    reports.sort(inFileOrder(fileName))
    return {
      format: format.name,
      rows,
      reports,
      rowsRead: raw.rows.length + raw.reports.length,
      rowsInvalid,
      blankLines: raw.blankLines ?? 0,
      unknownKeys,
      replacements
    }
  })

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
