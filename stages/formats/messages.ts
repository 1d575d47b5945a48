/**
 * The conversational format TRL and OpenAI use: `{ messages: [{ role, content, tool_calls? }], tools? }`.
 */
import type { FieldIssue } from "./report.ts"
import { finish, normaliseMessages } from "./conversation.ts"
import { collectUnknownKeys } from "./fields.ts"
import type { RowFormat } from "./format.ts"
import { normaliseTools } from "./tools.ts"

const knownKeys: ReadonlySet<string> = new Set(["messages", "tools"])

/** `{ messages, tools? }` rows. */
export const messagesFormat: RowFormat = {
  name: "messages",
  matches: (row) => "messages" in row,
  normalise: (row) => {
    const issues: Array<FieldIssue> = []
    const unknownKeys: Array<string> = []
    collectUnknownKeys(row, knownKeys, "", unknownKeys)
    const messages = normaliseMessages(row.messages, "messages", issues, unknownKeys)
    const tools = normaliseTools(row.tools, "tools", issues)
    return finish(messages, tools, "messages", issues, unknownKeys)
  }
}
