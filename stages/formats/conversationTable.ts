/**
 * The load stage's output table (contract C) and the conversion from normalised rows.
 */
import * as arrow from "apache-arrow"
import { nullable, tableSchema } from "../../src/index.ts"
import type { LoadedRow } from "./readDataset.ts"

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
export type ConversationColumns = typeof conversationSchema extends arrow.Schema<infer T> ? T : never

/** Builds the table; each column is built with its declared type so the schema matches exactly. */
export const toConversationTable = (rows: ReadonlyArray<LoadedRow>): arrow.Table<ConversationColumns> => {
  const columns = {
    messages: rows.map((row) => row.conversation.messages),
    tools: rows.map((row) => row.conversation.tools),
    source: rows.map((row) => row.source)
  }
  const children = conversationSchema.fields.map((field) =>
    arrow.vectorFromArray(columns[field.name as keyof typeof columns], field.type).data[0]!
  )
  const data = arrow.makeData({
    type: new arrow.Struct<ConversationColumns>(conversationSchema.fields),
    length: rows.length,
    nullCount: 0,
    children
  })
  return new arrow.Table(conversationSchema, [new arrow.RecordBatch(conversationSchema, data)])
}
