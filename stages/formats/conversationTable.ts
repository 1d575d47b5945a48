/**
 * The load stage's output table, built from normalised rows, and read back into them.
 */
import type * as arrow from "apache-arrow"
import { tableFrom } from "../../src/index.ts"
import { conversationSchema } from "../schemas/conversation.ts"
import type { ConversationColumns } from "../schemas/conversation.ts"
import type { Message } from "./conversation.ts"
import type { LoadedRow } from "./readDataset.ts"

/** Builds the table. */
export const toConversationTable = (rows: ReadonlyArray<LoadedRow>): arrow.Table<ConversationColumns> =>
  tableFrom(conversationSchema, {
    messages: rows.map((row) => row.conversation.messages),
    tools: rows.map((row) => row.conversation.tools),
    source: rows.map((row) => row.source)
  })

/** The rows of a conversation batch as normalised rows (what load holds while it splits). */
export const loadedRows = (batch: arrow.RecordBatch<ConversationColumns>): Array<LoadedRow> =>
  Array.from({ length: batch.numRows }, (_, i) => {
    const row = batch.get(i)!
    const messages: Array<Message> = Array.from(row.messages, (m) => ({
      role: m!.role as Message["role"],
      content: m!.content,
      tool_calls: m!.tool_calls,
      name: m!.name
    }))
    return { conversation: { messages, tools: row.tools }, source: row.source }
  })
