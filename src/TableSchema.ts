/**
 * `tableSchema`: builds an `arrow.Schema` whose TypeMap is inferred from the columns. Arrow's own
 * `new Schema([...fields])` infers `Schema<any>`, which would make every table handle fit every
 * table input; with this helper (or an explicit `new arrow.Schema<{ … }>`) miswiring fails to compile.
 */
import * as arrow from "apache-arrow"

/** A column with explicit nullability; a bare DataType means non-nullable. */
export interface Column<T extends arrow.DataType> {
  readonly type: T
  readonly nullable: boolean
}

/** Marks a column nullable. */
export const nullable = <T extends arrow.DataType>(type: T): Column<T> => ({ type, nullable: true })

type ColumnType<C> = C extends Column<infer T> ? T : C

/** The TypeMap of a column record. */
export type ColumnsTypeMap<F> = { -readonly [K in keyof F]: ColumnType<F[K]> }

/** Columns in declaration order; names must not look like integers (JS would reorder them). */
export const tableSchema = <const F extends Readonly<Record<string, arrow.DataType | Column<arrow.DataType>>>>(
  columns: F
): arrow.Schema<ColumnsTypeMap<F>> => {
  const fields = Object.entries(columns).map(([name, column]) => {
    if (/^\d+$/.test(name)) throw new Error(`tableSchema: column name "${name}" must not be an integer`)
    return column instanceof arrow.DataType
      ? new arrow.Field(name, column, false)
      : new arrow.Field(name, column.type, column.nullable)
  })
  return new arrow.Schema<ColumnsTypeMap<F>>(fields as Array<arrow.Field<ColumnsTypeMap<F>[keyof F]>>)
}

/** The TypeMap of a schema built by {@link tableSchema}: `arrow.Table<ColumnsOf<typeof schema>>`. */
export type ColumnsOf<S> = S extends arrow.Schema<infer T> ? T : never

/**
 * A plain JS value arrow's builders take for a column of type `T`: arrays for lists and objects
 * for structs (arrow's own `TValue` is the Vector and row-proxy classes it reads back).
 */
type PlainValue<T extends arrow.DataType> = T extends arrow.List<infer E>
  ? ReadonlyArray<PlainValue<E> | null>
  : T extends arrow.Struct<infer M> ? { readonly [K in keyof M]: PlainValue<M[K]> | null }
  : T["TValue"]

/** Column values `tableFrom` accepts: plain values (null for nulls) or a ready vector. */
export type ColumnValues<T extends arrow.DataType> = ReadonlyArray<PlainValue<T> | null> | arrow.Vector<T>

/**
 * A single-batch table with exactly `schema` (nullability included); arrow's `tableFromArrays`
 * infers its own schema, which then does not match the declared one.
 */
export const tableFrom = <T extends arrow.TypeMap>(
  schema: arrow.Schema<T>,
  columns: { readonly [K in keyof T]: ColumnValues<T[K]> }
): arrow.Table<T> => {
  const children = schema.fields.map((field) => {
    const values = columns[field.name as keyof T] as ColumnValues<arrow.DataType> | undefined
    if (values === undefined) throw new Error(`tableFrom: column "${field.name}" is missing`)
    const vector = values instanceof arrow.Vector ? values : arrow.vectorFromArray(values as Array<unknown>, field.type)
    if (vector.data.length !== 1) throw new Error(`tableFrom: column "${field.name}" has ${vector.data.length} chunks, expected one`)
    const data = vector.data[0]!
    if (!field.nullable && data.nullCount > 0) throw new Error(`tableFrom: column "${field.name}" is not nullable`)
    return data
  })
  const length = children[0]?.length ?? 0
  if (children.some((child) => child.length !== length)) throw new Error("tableFrom: columns differ in length")
  const struct = arrow.makeData({ type: new arrow.Struct(schema.fields), length, nullCount: 0, children })
  return new arrow.Table(schema, [new arrow.RecordBatch(schema, struct)])
}
