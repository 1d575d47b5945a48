/**
 * Parquet via hyparquet + hyparquet-compressors: the one JS reader measured to read files pyarrow
 * writes (snappy and zstd) and to give nested `list<struct<...>>` columns as plain objects.
 * Locations are 0-based row numbers, as `datasets` and pandas index rows.
 */
import { Effect } from "effect"
import { parquetReadObjects } from "hyparquet"
import { compressors } from "hyparquet-compressors"
import { DatasetError } from "./DatasetError.ts"
import type { RawRows } from "./rawRows.ts"
import { toJsonValue } from "./rawRows.ts"

/** Reads every row of a Parquet file. */
export const readParquet = (bytes: Uint8Array, fileName: string): Effect.Effect<RawRows, DatasetError> =>
  Effect.tryPromise({
    try: () => {
      const file = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer
      return parquetReadObjects({ file, compressors, rowFormat: "object" })
    },
    catch: (cause) =>
      new DatasetError({ file: fileName, message: `${fileName}: not a readable Parquet file: ${String(cause)}`, cause })
  }).pipe(
    Effect.map((objects) => ({
      rows: objects.map((value, index) => ({ location: `${fileName}:row ${index}`, value: toJsonValue(value) })),
      reports: []
    }))
  )
