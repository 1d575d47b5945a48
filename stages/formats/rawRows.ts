/**
 * Rows as a file reader yields them, before any format is applied.
 */
import type { RowReport } from "./report.ts"

/** One row and where it came from (`train.jsonl:17`, `train.parquet:row 16`). */
export interface RawRow {
  readonly location: string
  readonly value: unknown
}

/** The rows of one file, and reports for rows that could not even be parsed. */
export interface RawRows {
  readonly rows: ReadonlyArray<RawRow>
  readonly reports: ReadonlyArray<RowReport>
  /** Empty or whitespace-only lines between rows (JSON Lines), skipped and counted. */
  readonly blankLines?: number
}

/**
 * Columnar readers give int64 as bigint and timestamps as Date; rows are turned into plain JSON
 * values so formats can serialise nested fields (tool arguments) with JSON.stringify.
 */
export const toJsonValue = (value: unknown): unknown => {
  if (typeof value === "bigint") return Number.isSafeInteger(Number(value)) ? Number(value) : value.toString()
  if (value instanceof Date) return value.toISOString()
  if (Array.isArray(value)) return value.map(toJsonValue)
  if (typeof value === "object" && value !== null && !ArrayBuffer.isView(value)) {
    const out: Record<string, unknown> = {}
    for (const [key, item] of Object.entries(value)) out[key] = toJsonValue(item)
    return out
  }
  return value
}
