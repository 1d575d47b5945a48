/**
 * A dataset file's raw rows piece by piece, so loading holds one piece, not the file: JSON Lines
 * in pieces of about `chunkBytes` that end at a newline, Parquet a row group at a time, Arrow IPC
 * a record batch at a time. A JSON array is read whole (it is one value). The file type is sniffed
 * from its first bytes (Parquet and Arrow magic, else JSON text), so a `.json` file holding JSON
 * Lines reads as well. Locations and reports are those of reading the whole file at once:
 * `file:line` for JSON, 0-based `file:row n` for Parquet and Arrow, as `datasets` and pandas index
 * rows.
 *
 * Parquet is read with hyparquet + hyparquet-compressors: the one JS reader measured to read files
 * pyarrow writes (snappy and zstd) and to give nested `list<struct<...>>` columns as plain objects.
 */
import { open } from "node:fs/promises"
import { Effect } from "effect"
import type { FileHandle } from "node:fs/promises"
import * as arrow from "apache-arrow"
import { asyncBufferFromFile, parquetMetadataAsync, parquetReadObjects } from "hyparquet"
import type { AsyncBuffer } from "hyparquet"
import { compressors } from "hyparquet-compressors"
import { toPlain } from "./arrow.ts"
import { DatasetError } from "./DatasetError.ts"
import { readJsonArray } from "./json.ts"
import { readJsonl } from "./jsonl.ts"
import type { RawRows } from "./rawRows.ts"
import { toJsonValue } from "./rawRows.ts"
import { decodeUtf8 } from "./utf8.ts"

/** A dataset file: its bytes in memory, or a path to read it from; `name` is what reports say. */
export type DatasetInput =
  | { readonly name: string; readonly bytes: Uint8Array }
  | { readonly name: string; readonly path: string }

/** Bytes of JSON Lines read at a time (a longer line is read whole). */
export const defaultChunkBytes = 4 << 20

/** Random access to the file's bytes. */
interface Bytes {
  readonly size: number
  readonly read: (position: number, length: number) => Promise<Uint8Array>
  readonly close: () => Promise<void>
}

const inMemory = (bytes: Uint8Array): Bytes => ({
  size: bytes.length,
  read: (position, length) => Promise.resolve(bytes.subarray(position, Math.min(bytes.length, position + length))),
  close: () => Promise.resolve()
})

const onDisk = async (path: string): Promise<Bytes & { readonly handle: FileHandle }> => {
  const handle = await open(path, "r")
  const { size } = await handle.stat()
  return {
    handle,
    size,
    read: async (position, length) => {
      const buffer = new Uint8Array(Math.max(0, Math.min(length, size - position)))
      let done = 0
      while (done < buffer.length) {
        const { bytesRead } = await handle.read(buffer, done, buffer.length - done, position + done)
        if (bytesRead === 0) break
        done += bytesRead
      }
      return buffer.subarray(0, done)
    },
    close: () => handle.close()
  }
}

const startsWith = (bytes: Uint8Array, magic: ReadonlyArray<number>): boolean =>
  bytes.length >= magic.length && magic.every((byte, index) => bytes[index] === byte)

const fail = (file: string, message: string, cause?: unknown) => new DatasetError({ file, message: `${file}: ${message}`, cause })

async function* parquetChunks(input: DatasetInput): AsyncGenerator<RawRows> {
  const { name } = input
  let file: AsyncBuffer
  let metadata: Awaited<ReturnType<typeof parquetMetadataAsync>>
  try {
    file = "bytes" in input
      ? input.bytes.buffer.slice(input.bytes.byteOffset, input.bytes.byteOffset + input.bytes.byteLength) as ArrayBuffer
      : await asyncBufferFromFile(input.path)
    metadata = await parquetMetadataAsync(file)
  } catch (cause) {
    throw fail(name, `not a readable Parquet file: ${String(cause)}`, cause)
  }
  let rowStart = 0
  for (const group of metadata.row_groups) {
    const rowEnd = rowStart + Number(group.num_rows)
    let objects: Array<Record<string, unknown>>
    try {
      objects = await parquetReadObjects({ file, metadata, compressors, rowFormat: "object", rowStart, rowEnd })
    } catch (cause) {
      throw fail(name, `not a readable Parquet file: ${String(cause)}`, cause)
    }
    const first = rowStart
    yield { rows: objects.map((value, index) => ({ location: `${name}:row ${first + index}`, value: toJsonValue(value) })), reports: [] }
    rowStart = rowEnd
  }
}

async function* arrowChunks(input: DatasetInput): AsyncGenerator<RawRows> {
  const { name } = input
  const handle = "path" in input ? await open(input.path, "r") : undefined
  try {
    const reader: AsyncIterable<arrow.RecordBatch> | Iterable<arrow.RecordBatch> = handle !== undefined
      ? await arrow.RecordBatchReader.from(handle)
      : arrow.RecordBatchReader.from("bytes" in input ? input.bytes : new Uint8Array())
    let index = 0
    for await (const batch of reader) {
      const rows = Array.from({ length: batch.numRows }, (_, row) => ({ location: `${name}:row ${index + row}`, value: toPlain(batch.get(row)) }))
      index += batch.numRows
      yield { rows, reports: [] }
    }
  } catch (cause) {
    if (cause instanceof DatasetError) throw cause
    throw fail(name, `not a readable Arrow IPC file: ${String(cause)}`, cause)
  } finally {
    await handle?.close()
  }
}

const newlines = (bytes: Uint8Array): number => {
  let count = 0
  for (let at = bytes.indexOf(0x0a); at >= 0; at = bytes.indexOf(0x0a, at + 1)) count++
  return count
}

async function* jsonlChunks(bytes: Bytes, name: string, chunkBytes: number): AsyncGenerator<RawRows> {
  let position = 0
  let line = 1
  let carry: Uint8Array = new Uint8Array(0)
  while (position < bytes.size || carry.length > 0) {
    const read = position < bytes.size ? await bytes.read(position, chunkBytes) : new Uint8Array(0)
    position += read.length
    const held = carry.length === 0 ? read : Buffer.concat([carry, read])
    const atEnd = position >= bytes.size
    const cut = atEnd ? held.length : held.lastIndexOf(0x0a) + 1
    if (cut === 0) {
      carry = held
      continue
    }
    const piece = held.subarray(0, cut)
    carry = held.slice(cut)
    yield readJsonl(decodeUtf8(piece, line === 1), name, line)
    line += newlines(piece)
  }
}

/** Reads `input`'s raw rows piece by piece. Throws DatasetError for a file that cannot be read. */
export async function* rawChunks(input: DatasetInput, chunkBytes = defaultChunkBytes): AsyncGenerator<RawRows> {
  const { name } = input
  let bytes: Bytes
  try {
    bytes = "bytes" in input ? inMemory(input.bytes) : await onDisk(input.path)
  } catch (cause) {
    throw fail(name, `cannot read: ${String(cause)}`, cause)
  }
  try {
    const head = await bytes.read(0, 8)
    if (startsWith(head, [0x50, 0x41, 0x52, 0x31])) return yield* parquetChunks(input) // "PAR1"
    if (startsWith(head, [0x41, 0x52, 0x52, 0x4f, 0x57, 0x31]) || startsWith(head, [0xff, 0xff, 0xff, 0xff])) {
      return yield* arrowChunks(input) // "ARROW1" (file format) or a continuation marker (stream format)
    }
    if (startsWith(head, [0x1f, 0x8b])) throw fail(name, "gzip-compressed; decompress it first")
    const first = decodeUtf8(await bytes.read(0, chunkBytes))
    if (first.text.trimStart().startsWith("[")) {
      const decoded = decodeUtf8(await bytes.read(0, bytes.size))
      return yield* [await Effect.runPromise(readJsonArray(decoded, name))]
    }
    yield* jsonlChunks(bytes, name, chunkBytes)
  } finally {
    await bytes.close()
  }
}
