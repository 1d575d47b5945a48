/**
 * Rendered conversations with their trained character spans: the template stage's output and the
 * tokenize stage's input (contract C).
 */
import * as arrow from "apache-arrow"
import { tableSchema } from "../../src/index.ts"
import type { ColumnsOf } from "../../src/index.ts"

const spanType = new arrow.Struct<{ start: arrow.Int32; end: arrow.Int32; turn: arrow.Int32 }>([
  new arrow.Field("start", new arrow.Int32(), false),
  new arrow.Field("end", new arrow.Int32(), false),
  new arrow.Field("turn", new arrow.Int32(), false)
])

/** Contract C: `text`, `spans` (UTF-16 [start, end) of trained text, `turn` = message index), `source`. */
export const renderedSchema = tableSchema({
  text: new arrow.Utf8(),
  spans: new arrow.List(new arrow.Field("item", spanType, false)),
  source: new arrow.Utf8()
})

/** The TypeMap of {@link renderedSchema}. */
export type RenderedColumns = ColumnsOf<typeof renderedSchema>
