/**
 * Rows of Arrow IPC files (what `datasets` caches and `pyarrow.ipc` writes) as plain values.
 */
import * as arrow from "apache-arrow"
import { toJsonValue } from "./rawRows.ts"

/** Arrow rows hold nested values as Vectors and StructRows; formats want plain lists and objects. */
export const toPlain = (value: unknown): unknown => {
  if (value instanceof arrow.Vector) return Array.from(value, toPlain)
  if (value instanceof arrow.StructRow || value instanceof arrow.MapRow) {
    const out: Record<string, unknown> = {}
    for (const [key, item] of Object.entries(value.toJSON() as Record<string, unknown>)) out[key] = toPlain(item)
    return out
  }
  return toJsonValue(value)
}
