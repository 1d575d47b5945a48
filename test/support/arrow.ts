/**
 * Arrow IPC round trips for stage tables: what a later stage reads back from the store must have
 * exactly the schema the stage declares.
 */
import * as arrow from "apache-arrow"

/** `table` written as an Arrow IPC file and read back. */
export const ipcRoundTrip = (table: arrow.Table): arrow.Table => arrow.tableFromIPC(arrow.tableToIPC(table, "file"))

const shape = (field: arrow.Field): unknown => ({
  name: field.name,
  type: String(field.type),
  nullable: field.nullable,
  children: (field.type.children ?? []).map(shape)
})

/** A schema's fields as plain data (name, type, nullability, children), so `toEqual` compares them fully. */
export const fieldShapes = (schema: arrow.Schema): Array<unknown> => schema.fields.map(shape)
