/**
 * The load stage's output table, built from normalised rows.
 */
import * as arrow from "apache-arrow"
import { conversationSchema } from "../schemas/conversation.ts"
import type { ConversationColumns } from "../schemas/conversation.ts"
import type { LoadedRow } from "./readDataset.ts"

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
