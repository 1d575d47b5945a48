/**
 * `pipeline inspect <run> load --rows N`: the first rows as a user would read them, one line per
 * message, so a wrong format mapping (a sharegpt role, a missing system prompt) is seen before training.
 */
import type * as arrow from "apache-arrow"
import type { ConversationColumns } from "../schemas/conversation.ts"

const roleColor: Record<string, string> = { system: "35", user: "36", assistant: "32", tool: "33" }

const oneLine = (text: string, width: number): string => {
  const flat = text.replaceAll("\n", "\\n").replaceAll("\r", "\\r").replaceAll("\t", "\\t")
  return flat.length > width ? `${flat.slice(0, width - 3)}...` : flat
}

/** Renders up to `rows` rows of `table` (a table's first rows) under `title`, with the table's `total` rows. */
export const inspectConversations = (
  title: string,
  table: arrow.Table<ConversationColumns>,
  total: number,
  rows: number,
  color: boolean
): string => {
  const paint = (code: string, text: string) => (color ? `\u001b[${code}m${text}\u001b[0m` : text)
  const lines = [`${title}: ${total} rows`]
  for (let i = 0; i < Math.min(rows, table.numRows); i++) {
    const row = table.get(i)!
    lines.push(paint("1", `${row.source}`))
    if (row.tools !== null) lines.push(`  tools: ${oneLine(row.tools, 100)}`)
    for (const message of row.messages) {
      const m = message!
      const name = m.name === null ? "" : ` (${m.name})`
      lines.push(`  ${paint(roleColor[m.role] ?? "0", m.role)}${name}: ${oneLine(m.content, 100)}`)
      if (m.tool_calls !== null) lines.push(`    tool_calls: ${oneLine(m.tool_calls, 100)}`)
    }
  }
  return lines.join("\n")
}
