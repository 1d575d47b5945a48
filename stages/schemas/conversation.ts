/**
 * Conversations, the load stage's output and the template stage's input (contract C). Schemas live
 * apart from the stages so a stage's code digest does not include the stage that produced its input.
 */
import * as arrow from "apache-arrow"
import { nullable, tableSchema } from "../../src/index.ts"
import type { ColumnsOf } from "../../src/index.ts"

const messageType = new arrow.Struct<{ role: arrow.Utf8; content: arrow.Utf8; tool_calls: arrow.Utf8; name: arrow.Utf8 }>([
  new arrow.Field("role", new arrow.Utf8(), false),
  new arrow.Field("content", new arrow.Utf8(), false),
  new arrow.Field("tool_calls", new arrow.Utf8(), true),
  new arrow.Field("name", new arrow.Utf8(), true)
])

/** `messages`: list of {role, content, tool_calls?, name?}; `tools`: JSON text or null; `source`: `file:line`. */
export const conversationSchema = tableSchema({
  messages: new arrow.List(new arrow.Field("item", messageType, false)),
  tools: nullable(new arrow.Utf8()),
  source: new arrow.Utf8()
})

/** The TypeMap of {@link conversationSchema}. */
export type ConversationColumns = ColumnsOf<typeof conversationSchema>
