/**
 * The sharegpt format as LLaMA-Factory reads it: `{ conversations: [{ from, value }], system?, tools? }`
 * with from human/user → user, gpt/assistant → assistant, system → system, function_call → an
 * assistant turn whose value is the JSON call(s), observation/tool → a tool turn (its result).
 */
import type { FieldIssue } from "./report.ts"
import type { Message } from "./conversation.ts"
import { finish, message } from "./conversation.ts"
import { collectUnknownKeys, fieldPath, isAbsent, isRecord, optionalString, requireString } from "./fields.ts"
import type { RowFormat } from "./format.ts"
import { quote, typeName } from "./report.ts"
import { normaliseToolCalls, normaliseTools, toolCallNames } from "./tools.ts"

const knownKeys: ReadonlySet<string> = new Set(["conversations", "system", "tools"])
const turnKeys: ReadonlySet<string> = new Set(["from", "value"])
const speakers = ["human", "user", "gpt", "assistant", "system", "function_call", "observation", "tool"] as const

/** The tool a result answers, when the turn before it made exactly one call. */
const answeredTool = (previous: Message | undefined): string | null => {
  if (previous === undefined || previous.tool_calls === null) return null
  const names = toolCallNames(previous.tool_calls)
  return names.length === 1 ? names[0]! : null
}

const readTurn = (
  turn: Record<string, unknown>,
  field: string,
  previous: Message | undefined,
  issues: Array<FieldIssue>
): Message | undefined => {
  const from = turn.from
  const value = requireString(turn, "value", field, issues)
  if (isAbsent(from)) {
    issues.push({ field: fieldPath(field, "from"), kind: "missing_field", reason: `missing (expected one of ${speakers.join("|")})` })
    return undefined
  }
  if (value === undefined) return undefined
  switch (from) {
    case "human":
    case "user":
      return message("user", value)
    case "gpt":
    case "assistant":
      return message("assistant", value)
    case "system":
      return message("system", value)
    case "function_call": {
      const toolCalls = normaliseToolCalls(value, fieldPath(field, "value"), issues)
      return toolCalls === null ? undefined : { role: "assistant", content: "", tool_calls: toolCalls, name: null }
    }
    case "observation":
    case "tool":
      return { role: "tool", content: value, tool_calls: null, name: answeredTool(previous) }
    default:
      issues.push({ field: fieldPath(field, "from"), kind: "unknown_role", reason: `${quote(from)} is not one of ${speakers.join("|")}` })
      return undefined
  }
}

/** `{ conversations: [{ from, value }], system?, tools? }` rows. */
export const sharegptFormat: RowFormat = {
  name: "sharegpt",
  matches: (row) => "conversations" in row,
  normalise: (row) => {
    const issues: Array<FieldIssue> = []
    const unknownKeys: Array<string> = []
    collectUnknownKeys(row, knownKeys, "", unknownKeys)
    const system = optionalString(row, "system", "", issues)
    const messages: Array<Message> = system === undefined || system === "" ? [] : [message("system", system)]
    const turns = row.conversations
    if (isAbsent(turns)) {
      issues.push({ field: "conversations", kind: "missing_field", reason: "missing (expected a list of {from, value} turns)" })
    } else if (!Array.isArray(turns)) {
      issues.push({ field: "conversations", kind: "wrong_type", reason: `expected a list of {from, value} turns, got ${typeName(turns)}` })
    } else {
      turns.forEach((turn: unknown, index) => {
        const field = fieldPath("conversations", index)
        if (!isRecord(turn)) {
          issues.push({ field, kind: "wrong_type", reason: `expected a {from, value} object, got ${typeName(turn)}` })
          return
        }
        collectUnknownKeys(turn, turnKeys, "conversations[]", unknownKeys)
        const normalised = readTurn(turn, field, messages.at(-1), issues)
        if (normalised !== undefined) messages.push(normalised)
      })
    }
    const tools = normaliseTools(row.tools, "tools", issues)
    return finish(messages, tools, "conversations", issues, unknownKeys)
  }
}
