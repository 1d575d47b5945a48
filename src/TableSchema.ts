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
