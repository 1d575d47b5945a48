/**
 * JSON Lines: one row per non-blank line; locations are physical line numbers (1-based). A line
 * holding an invalid UTF-8 byte is reported as such and read no further; blank lines are counted.
 */
import type { RawRow, RawRows } from "./rawRows.ts"
import type { RowReport } from "./report.ts"
import { describeJsonError } from "./jsonError.ts"
import type { DecodedText } from "./utf8.ts"
import { invalidIn } from "./utf8.ts"

/**
 * Splits decoded text into rows; a line that is not valid UTF-8 or not valid JSON becomes a report.
 * `firstLine` is the line number of the text's first line (a piece of a file read in pieces that
 * each end at a newline).
 */
export const readJsonl = ({ text, invalid }: DecodedText, fileName: string, firstLine = 1): RawRows => {
  const rows: Array<RawRow> = []
  const reports: Array<RowReport> = []
  const lines = text.split("\n")
  // A final newline ends the last line; it does not start a blank one.
  if (lines.at(-1) === "") lines.pop()
  let blankLines = 0
  let lineStart = 0
  lines.forEach((raw, index) => {
    const start = lineStart
    lineStart += raw.length + 1
    const line = raw.endsWith("\r") ? raw.slice(0, -1) : raw
    const location = `${fileName}:${firstLine + index}`
    const badBytes = invalidIn(invalid, start, start + raw.length, (at) => `column ${at - start + 1}`)
    if (badBytes !== undefined) {
      reports.push({ location, field: "", kind: "invalid_utf8", reason: badBytes })
      return
    }
    if (line.trim() === "") {
      blankLines++
      return
    }
    try {
      rows.push({ location, value: JSON.parse(line) })
    } catch (error) {
      reports.push({ location, field: "", kind: "invalid_json", reason: describeJsonError(error, line, firstLine + index, 1) })
    }
  })
  return { rows, reports, blankLines }
}
