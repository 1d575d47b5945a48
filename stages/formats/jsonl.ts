/**
 * JSON Lines: one row per non-blank line; locations are physical line numbers (1-based).
 */
import type { RawRow, RawRows } from "./rawRows.ts"
import type { RowReport } from "./report.ts"
import { describeJsonError } from "./jsonError.ts"

/** Splits `text` into rows; a line that is not valid JSON becomes an `invalid_json` report. */
export const readJsonl = (text: string, fileName: string): RawRows => {
  const rows: Array<RawRow> = []
  const reports: Array<RowReport> = []
  const lines = text.split("\n")
  lines.forEach((raw, index) => {
    const line = raw.endsWith("\r") ? raw.slice(0, -1) : raw
    if (line.trim() === "") return
    const location = `${fileName}:${index + 1}`
    try {
      rows.push({ location, value: JSON.parse(line) })
    } catch (error) {
      reports.push({ location, field: "", kind: "invalid_json", reason: describeJsonError(error, line, index + 1, 1) })
    }
  })
  return { rows, reports }
}
