/**
 * Tokenized examples: the tokenize stage's output and the pack stage's input (contract C).
 */
import * as arrow from "apache-arrow"
import { tableSchema } from "../../src/index.ts"
import type { ColumnsOf } from "../../src/index.ts"
import { int32List, int32ListRows } from "./int32Lists.ts"

/** `input_ids`, `labels` (unshifted, −100 where not trained), `source` (`file:line` of the row). */
export const tokenizedSchema = tableSchema({
  input_ids: int32List(),
  labels: int32List(),
  source: new arrow.Utf8()
})

/** The TypeMap of {@link tokenizedSchema}. */
export type TokenizedColumns = ColumnsOf<typeof tokenizedSchema>

/** One tokenized example. */
export interface TokenizedRow {
  readonly inputIds: Int32Array
  readonly labels: Int32Array
  readonly source: string
}

/** The rows of a tokenized table; the token lists are views into the table's buffers. */
export const readTokenizedRows = (table: arrow.Table<TokenizedColumns>): Array<TokenizedRow> => {
  const inputIds = int32ListRows(table.getChild("input_ids")!)
  const labels = int32ListRows(table.getChild("labels")!)
  const source = Array.from(table.getChild("source")!)
  return inputIds.map((ids, row) => ({ inputIds: ids, labels: labels[row]!, source: source[row]! }))
}

export { countTrained, ignoreIndex } from "./labels.ts"
