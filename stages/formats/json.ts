/**
 * A JSON array of rows. Locations are the line on which each element starts, and the column too
 * when the element before started on the same line (in a minified file every element is on line 1).
 *
 * JSON.parse keeps no positions, so a small scanner finds where each top-level element begins
 * and ends (tracking strings and nesting only) and each element is parsed on its own: a broken
 * element is reported at its own line instead of failing the whole file; a file whose array is
 * not closed, or has text after it, fails as a whole. An element holding an invalid UTF-8 byte is
 * reported as such and not parsed.
 */
import { Effect } from "effect"
import { DatasetError } from "./DatasetError.ts"
import { describeJsonError } from "./jsonError.ts"
import type { RawRow, RawRows } from "./rawRows.ts"
import type { RowReport } from "./report.ts"
import type { DecodedText } from "./utf8.ts"
import { invalidIn } from "./utf8.ts"

const NEWLINE = 10
const QUOTE = 34
const BACKSLASH = 92
const COMMA = 44
const OPEN_BRACKET = 91
const CLOSE_BRACKET = 93
const OPEN_BRACE = 123
const CLOSE_BRACE = 125

const isSpace = (code: number): boolean => code === 32 || code === 9 || code === 10 || code === 13

/** Reads `[row, row, ...]`; fails when the text is not a JSON array at all. */
export const readJsonArray = ({ text, invalid }: DecodedText, fileName: string): Effect.Effect<RawRows, DatasetError> =>
  Effect.suspend(() => {
    const rows: Array<RawRow> = []
    const reports: Array<RowReport> = []
    const n = text.length
    let i = 0
    let line = 1
    let lineStart = 0
    let previousLine = 0
    const skipSpace = () => {
      while (i < n && isSpace(text.charCodeAt(i))) {
        if (text.charCodeAt(i) === NEWLINE) {
          line++
          lineStart = i + 1
        }
        i++
      }
    }
    skipSpace()
    if (text.charCodeAt(i) !== OPEN_BRACKET) {
      return Effect.fail(new DatasetError({ file: fileName, message: `${fileName}:${line}: expected a JSON array of rows` }))
    }
    i++
    for (;;) {
      skipSpace()
      if (i >= n) {
        return Effect.fail(
          new DatasetError({ file: fileName, message: `${fileName}:${line}: the JSON array is not closed (a truncated file?)` })
        )
      }
      if (text.charCodeAt(i) === CLOSE_BRACKET) {
        i++
        break
      }
      const start = i
      const startLine = line
      const startColumn = start - lineStart + 1
      let depth = 0
      let inString = false
      for (; i < n; i++) {
        const code = text.charCodeAt(i)
        if (code === NEWLINE) {
          line++
          lineStart = i + 1
        }
        if (inString) {
          if (code === BACKSLASH) i++
          else if (code === QUOTE) inString = false
        } else if (code === QUOTE) {
          inString = true
        } else if (code === OPEN_BRACE || code === OPEN_BRACKET) {
          depth++
        } else if (code === CLOSE_BRACE || code === CLOSE_BRACKET) {
          // A "]" at depth 0 closes the array; a stray "}" there stays in the (broken) element, so
          // the scan always moves on.
          if (depth === 0 && code === CLOSE_BRACKET) break
          if (depth > 0) depth--
        } else if (code === COMMA && depth === 0) {
          break
        }
      }
      const slice = text.slice(start, i)
      const location = startLine === previousLine ? `${fileName}:${startLine}:${startColumn}` : `${fileName}:${startLine}`
      previousLine = startLine
      const badBytes = invalidIn(invalid, start, i, (at) => {
        const before = text.slice(0, at)
        return `line ${before.split("\n").length} column ${at - before.lastIndexOf("\n")}`
      })
      if (badBytes !== undefined) {
        reports.push({ location, field: "", kind: "invalid_utf8", reason: badBytes })
        if (text.charCodeAt(i) === COMMA) i++
        continue
      }
      try {
        rows.push({ location, value: JSON.parse(slice) })
      } catch (error) {
        const span = line > startLine ? ` (element spans lines ${startLine}-${line})` : ""
        reports.push({ location, field: "", kind: "invalid_json", reason: describeJsonError(error, slice, startLine, startColumn) + span })
      }
      if (text.charCodeAt(i) === COMMA) i++
    }
    skipSpace()
    if (i < n) {
      // Rows after a stray "]" would otherwise vanish unreported.
      return Effect.fail(
        new DatasetError({ file: fileName, message: `${fileName}:${line}: text after the closing ] of the JSON array` })
      )
    }
    return Effect.succeed({ rows, reports })
  })
