/**
 * TRL's prompt/completion format. Plain strings become `[user: prompt, assistant: completion]`;
 * conversational rows (lists of messages) are joined as prompt messages + completion messages.
 */
import type { FieldIssue } from "./report.ts"
import type { Message } from "./conversation.ts"
import { finish, message, normaliseMessages } from "./conversation.ts"
import { collectUnknownKeys, isAbsent } from "./fields.ts"
import type { RowFormat } from "./format.ts"
import { typeName } from "./report.ts"
import { normaliseTools } from "./tools.ts"

/** Load-stage config for GSM8K (`{"question", "answer"}` rows): spread it into the stage config. */
export const gsm8k = { format: "prompt_completion", promptField: "question", completionField: "answer" } as const

const side = (
  row: Record<string, unknown>,
  key: string,
  role: "user" | "assistant",
  issues: Array<FieldIssue>,
  unknownKeys: Array<string>
): Array<Message> => {
  const value = row[key]
  if (typeof value === "string") return [message(role, value)]
  if (Array.isArray(value)) return normaliseMessages(value, key, issues, unknownKeys)
  issues.push(
    isAbsent(value)
      ? { field: key, kind: "missing_field", reason: "missing (expected a string or a list of messages)" }
      : { field: key, kind: "wrong_type", reason: `expected a string or a list of messages, got ${typeName(value)}` }
  )
  return []
}

/** `{ prompt, completion, tools? }` rows, field names configurable. */
export const promptCompletionFormat: RowFormat = {
  name: "prompt_completion",
  matches: (row, options) => options.promptField in row && options.completionField in row,
  normalise: (row, options) => {
    const issues: Array<FieldIssue> = []
    const unknownKeys: Array<string> = []
    collectUnknownKeys(row, new Set([options.promptField, options.completionField, "tools"]), "", unknownKeys)
    const prompt = side(row, options.promptField, "user", issues, unknownKeys)
    const completion = side(row, options.completionField, "assistant", issues, unknownKeys)
    const tools = normaliseTools(row.tools, "tools", issues)
    return finish([...prompt, ...completion], tools, options.completionField, issues, unknownKeys)
  }
}
