/**
 * UTF-8 text of a dataset file that may hold invalid bytes. `TextDecoder` with `fatal` rejects a
 * whole file for one bad byte and says nowhere where it was; without `fatal` it hides the byte
 * behind U+FFFD, indistinguishable from a U+FFFD the data really holds. So a file that is not
 * valid UTF-8 (checked by Node's `isUtf8`, the fast path) is decoded sequence by sequence here,
 * each invalid byte becoming one U+FFFD whose position is recorded, so readers can report the line
 * and column of every invalid byte and drop only what holds one.
 */
import { isUtf8 } from "node:buffer"

/** An invalid byte: its value and the index of the U+FFFD that stands for it in the text. */
export interface InvalidByte {
  readonly index: number
  readonly byte: number
}

/** Decoded text and where its invalid bytes were (sorted by index). */
export interface DecodedText {
  readonly text: string
  readonly invalid: ReadonlyArray<InvalidByte>
}

const fileDecoder = new TextDecoder("utf-8")
// Runs between invalid bytes, and later pieces of a file, keep a U+FEFF they start with.
const pieceDecoder = new TextDecoder("utf-8", { ignoreBOM: true })

const inRange = (byte: number | undefined, low: number, high: number): boolean => byte !== undefined && byte >= low && byte <= high

/** The length of the well-formed UTF-8 sequence (RFC 3629, table 3-7 of Unicode) at `i`, or 0. */
const sequenceLength = (bytes: Uint8Array, i: number): number => {
  const b0 = bytes[i]!
  if (b0 < 0x80) return 1
  const tail = (from: number, count: number) => {
    for (let k = 0; k < count; k++) if (!inRange(bytes[from + k], 0x80, 0xbf)) return false
    return true
  }
  if (b0 >= 0xc2 && b0 <= 0xdf) return tail(i + 1, 1) ? 2 : 0
  if (b0 >= 0xe0 && b0 <= 0xef) {
    const low = b0 === 0xe0 ? 0xa0 : 0x80
    const high = b0 === 0xed ? 0x9f : 0xbf
    return inRange(bytes[i + 1], low, high) && tail(i + 2, 1) ? 3 : 0
  }
  if (b0 >= 0xf0 && b0 <= 0xf4) {
    const low = b0 === 0xf0 ? 0x90 : 0x80
    const high = b0 === 0xf4 ? 0x8f : 0xbf
    return inRange(bytes[i + 1], low, high) && tail(i + 2, 2) ? 4 : 0
  }
  return 0
}

/**
 * Decodes `bytes`, recording every invalid byte. A leading BOM is dropped (as TextDecoder does)
 * when `fileStart`: a later piece of a file keeps a U+FEFF it starts with.
 */
export const decodeUtf8 = (bytes: Uint8Array, fileStart = true): DecodedText => {
  if (isUtf8(bytes)) return { text: (fileStart ? fileDecoder : pieceDecoder).decode(bytes), invalid: [] }
  const start = fileStart && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? 3 : 0
  const parts: Array<string> = []
  const invalid: Array<InvalidByte> = []
  let length = 0
  let runStart = start
  const flush = (end: number) => {
    if (end > runStart) {
      const part = pieceDecoder.decode(bytes.subarray(runStart, end))
      parts.push(part)
      length += part.length
    }
  }
  for (let i = start; i < bytes.length;) {
    const n = sequenceLength(bytes, i)
    if (n > 0) {
      i += n
      continue
    }
    flush(i)
    invalid.push({ index: length, byte: bytes[i]! })
    parts.push("\ufffd")
    length += 1
    i += 1
    runStart = i
  }
  flush(bytes.length)
  return { text: parts.join(""), invalid }
}

/** The invalid bytes whose U+FFFD lies in text[start, end), as a report's reason; undefined when none. */
export const invalidIn = (
  invalid: ReadonlyArray<InvalidByte>,
  start: number,
  end: number,
  column: (index: number) => string
): string | undefined => {
  const found = invalid.filter((entry) => entry.index >= start && entry.index < end)
  if (found.length === 0) return undefined
  const first = found[0]!
  const more = found.length > 1 ? ` (and ${found.length - 1} more)` : ""
  return `not valid UTF-8: byte 0x${first.byte.toString(16).padStart(2, "0")} at ${column(first.index)}${more}`
}
