/**
 * V8's JSON.parse messages give a character offset ("at position 12"); users need a line and column.
 */

/** The parse error of `slice` (which starts at file line `firstLine`) with its position as line:column. */
export const describeJsonError = (error: unknown, slice: string, firstLine: number): string => {
  const message = error instanceof Error ? error.message : String(error)
  const match = /at position (\d+)/.exec(message)
  if (match === null) return `not valid JSON: ${message}`
  const offset = Number(match[1])
  const before = slice.slice(0, offset)
  const newlines = before.split("\n").length - 1
  const column = offset - (before.lastIndexOf("\n") + 1) + 1
  return `not valid JSON: ${message.slice(0, match.index).trimEnd()} at line ${firstLine + newlines} column ${column}`
}
