/**
 * `List<Int32>` columns built straight from typed arrays (one offsets buffer, one values buffer):
 * `vectorFromArray` would box every id on a dataset of millions of tokens.
 */
import * as arrow from "apache-arrow"

/** The column type: a list of non-null int32 items, as the tokenized and packed schemas declare. */
export const int32List = () => new arrow.List(new arrow.Field("item", new arrow.Int32(), false))

/** One List<Int32> column whose row r is `values[offsets[r]..offsets[r+1])` (the arrays are not copied). */
export const int32ListFromOffsets = (offsets: Int32Array, values: Int32Array): arrow.Data<arrow.List<arrow.Int32>> => {
  const child = arrow.makeData({ type: new arrow.Int32(), length: values.length, nullCount: 0, data: values })
  return arrow.makeData({ type: int32List(), length: offsets.length - 1, nullCount: 0, valueOffsets: offsets, child })
}

/** One List<Int32> column from per-row arrays. */
export const int32ListData = (rows: ReadonlyArray<Int32Array>): arrow.Data<arrow.List<arrow.Int32>> => {
  const offsets = new Int32Array(rows.length + 1)
  rows.forEach((row, i) => (offsets[i + 1] = offsets[i]! + row.length))
  const values = new Int32Array(offsets[rows.length]!)
  rows.forEach((row, i) => values.set(row, offsets[i]!))
  return int32ListFromOffsets(offsets, values)
}

/** The rows of a List<Int32> column as views into its buffers (no copies). */
export const int32ListRows = (column: arrow.Vector<arrow.List<arrow.Int32>>): Array<Int32Array> =>
  column.data.flatMap((data) => {
    // Slicing a list column slices its offsets, so offsets index the child's values from 0.
    const offsets = data.valueOffsets
    const values = data.children[0]!.values as Int32Array
    return Array.from({ length: data.length }, (_, row) => values.subarray(offsets[row]!, offsets[row + 1]!))
  })
