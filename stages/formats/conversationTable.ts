/**
 * The load stage's output table, built from normalised rows.
 */
import type * as arrow from "apache-arrow"
import { tableFrom } from "../../src/index.ts"
import { conversationSchema } from "../schemas/conversation.ts"
import type { ConversationColumns } from "../schemas/conversation.ts"
import type { LoadedRow } from "./readDataset.ts"

/** Builds the table. */
export const toConversationTable = (rows: ReadonlyArray<LoadedRow>): arrow.Table<ConversationColumns> =>
  tableFrom(conversationSchema, {
    messages: rows.map((row) => row.conversation.messages),
    tools: rows.map((row) => row.conversation.tools),
    source: rows.map((row) => row.source)
  })
