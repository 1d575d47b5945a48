/**
 * V8's JSON.parse messages give a character offset ("at position 12"); users need a line and column.
 */

/**
 * The parse error of `slice`, which starts in the file at line `firstLine`, column `firstColumn`
 * (both 1-based), with its position given as the file's line and column.
 */
export const describeJsonError = (error: unknown, slice: string, firstLine: number, firstColumn: number): string => {
  const message = error instanceof Error ? error.message : String(error)
  const match = /at position (\d+)/.exec(message)
  if (match === null) return `not valid JSON: ${message}`
  const offset = Number(match[1])
  const before = slice.slice(0, offset)
  const newlines = before.split("\n").length - 1
  const lineStart = before.lastIndexOf("\n") + 1
  const column = offset - lineStart + (newlines === 0 ? firstColumn : 1)
  return `not valid JSON: ${message.slice(0, match.index).trimEnd()} at line ${firstLine + newlines} column ${column}`
}
