/**
 * Packed training rows: the pack stage's output and the train stage's input (contract C).
 */
import type * as arrow from "apache-arrow"
import { tableSchema } from "../../src/index.ts"
import type { ColumnsOf } from "../../src/index.ts"
import { int32List } from "./int32Lists.ts"

/**
 * Per row, sum(seq_lengths) == the length of the other three lists <= maxSeqLength; position_ids
 * restart at each document and its first label is −100.
 */
export const packedSchema = tableSchema({
  input_ids: int32List(),
  labels: int32List(),
  position_ids: int32List(),
  seq_lengths: int32List()
})

export type PackedTable = arrow.Table<ColumnsOf<typeof packedSchema>>
