/**
 * Arrow IPC, file or stream format (what `datasets` caches and `pyarrow.ipc` writes).
 * Locations are 0-based row numbers, as `datasets` and pandas index rows.
 */
import * as arrow from "apache-arrow"
import { Effect } from "effect"
import { DatasetError } from "./DatasetError.ts"
import type { RawRows } from "./rawRows.ts"
import { toJsonValue } from "./rawRows.ts"

/** Arrow rows hold nested values as Vectors and StructRows; formats want plain lists and objects. */
const toPlain = (value: unknown): unknown => {
  if (value instanceof arrow.Vector) return Array.from(value, toPlain)
  if (value instanceof arrow.StructRow || value instanceof arrow.MapRow) {
    const out: Record<string, unknown> = {}
    for (const [key, item] of Object.entries(value.toJSON() as Record<string, unknown>)) out[key] = toPlain(item)
    return out
  }
  return toJsonValue(value)
}

/** Reads every row of an Arrow IPC file or stream. */
export const readArrowIpc = (bytes: Uint8Array, fileName: string): Effect.Effect<RawRows, DatasetError> =>
  Effect.try({
    try: () => {
      const table = arrow.tableFromIPC(bytes)
      return {
        rows: Array.from({ length: table.numRows }, (_, index) => ({
          location: `${fileName}:row ${index}`,
          value: toPlain(table.get(index))
        })),
        reports: []
      }
    },
    catch: (cause) =>
      new DatasetError({ file: fileName, message: `${fileName}: not a readable Arrow IPC file: ${String(cause)}`, cause })
  })
