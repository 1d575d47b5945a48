/**
 * The normalised conversation every row format produces (one row of the load stage's output,
 * contract C), and the checks every conversation must pass whatever format it came from.
 */
import { collectUnknownKeys, fieldPath, isAbsent, isRecord, optionalString, requireString } from "./fields.ts"
import type { FieldIssue } from "./report.ts"
import { quote, typeName } from "./report.ts"
import { normaliseToolCalls } from "./tools.ts"

/** The roles a chat template understands. */
export const roles = ["system", "user", "assistant", "tool"] as const

/** One of {@link roles}. */
export type Role = (typeof roles)[number]

/** One turn. `tool_calls` is a JSON array in OpenAI form; `name` names the tool a `tool` turn answers. */
export interface Message {
  readonly role: Role
  readonly content: string
  readonly tool_calls: string | null
  readonly name: string | null
}

/** A conversation ready for a chat template; `tools` is a JSON array of tool schemas. */
export interface Conversation {
  readonly messages: ReadonlyArray<Message>
  readonly tools: string | null
}

/** What a row format makes of one row: a conversation exactly when there are no issues. */
export interface Normalised {
  readonly conversation: Conversation | undefined
  readonly issues: ReadonlyArray<FieldIssue>
  readonly unknownKeys: ReadonlyArray<string>
}

const roleSet: ReadonlySet<string> = new Set(roles)
const messageKeys: ReadonlySet<string> = new Set(["role", "content", "tool_calls", "name"])

/** A message with no tool calls and no tool name. */
export const message = (role: Role, content: string): Message => ({ role, content, tool_calls: null, name: null })

/**
 * Reads an OpenAI-style message list (`[{ role, content, tool_calls?, name? }]`) at `path`.
 * Problems go to `issues`; keys no template reads go to `unknownKeys` as `path[].key`.
 */
export const normaliseMessages = (
  value: unknown,
  path: string,
  issues: Array<FieldIssue>,
  unknownKeys: Array<string>
): Array<Message> => {
  if (isAbsent(value)) {
    issues.push({ field: path, kind: "missing_field", reason: "missing (expected a list of messages)" })
    return []
  }
  if (!Array.isArray(value)) {
    issues.push({ field: path, kind: "wrong_type", reason: `expected a list of messages, got ${typeName(value)}` })
    return []
  }
  const messages: Array<Message> = []
  value.forEach((item: unknown, index) => {
    const field = fieldPath(path, index)
    if (!isRecord(item)) {
      issues.push({ field, kind: "wrong_type", reason: `expected a message object, got ${typeName(item)}` })
      return
    }
    collectUnknownKeys(item, messageKeys, `${path}[]`, unknownKeys)
    const role = readRole(item.role, fieldPath(field, "role"), issues)
    const toolCalls = isAbsent(item.tool_calls)
      ? null
      : normaliseToolCalls(item.tool_calls, fieldPath(field, "tool_calls"), issues)
    if (toolCalls !== null && role !== undefined && role !== "assistant") {
      issues.push({
        field: fieldPath(field, "tool_calls"),
        kind: "bad_tool_call",
        reason: `only assistant messages make tool calls, this one is ${role}`
      })
    }
    // An assistant turn that only calls tools may leave its content out (OpenAI form).
    const content = isAbsent(item.content) && !isAbsent(item.tool_calls)
      ? ""
      : requireString(item, "content", field, issues, "non_string_content")
    const name = optionalString(item, "name", field, issues) ?? null
    if (role !== undefined && content !== undefined) messages.push({ role, content, tool_calls: toolCalls, name })
  })
  return messages
}

const readRole = (value: unknown, field: string, issues: Array<FieldIssue>): Role | undefined => {
  if (isAbsent(value)) {
    issues.push({ field, kind: "missing_field", reason: `missing (expected one of ${roles.join("|")})` })
    return undefined
  }
  if (typeof value !== "string" || !roleSet.has(value)) {
    issues.push({ field, kind: "unknown_role", reason: `${quote(value)} is not one of ${roles.join("|")}` })
    return undefined
  }
  return value as Role
}

/**
 * The checks every format shares: at least one message, at least one assistant turn (a
 * conversation without one has nothing to train on), no assistant turn that says nothing (it
 * would train the model to answer with silence), and an assistant turn last (what follows the last
 * reply is never trained on, so a conversation ending elsewhere is most likely truncated).
 * Returns the row's result.
 */
export const finish = (
  messages: ReadonlyArray<Message>,
  tools: string | null,
  messagesField: string,
  issues: ReadonlyArray<FieldIssue>,
  unknownKeys: ReadonlyArray<string>
): Normalised => {
  if (issues.length > 0) return { conversation: undefined, issues, unknownKeys }
  if (messages.length === 0) {
    return {
      conversation: undefined,
      issues: [{ field: messagesField, kind: "empty_conversation", reason: "the conversation has no messages" }],
      unknownKeys
    }
  }
  const rejected = (kind: FieldIssue["kind"], reason: string): Normalised => ({
    conversation: undefined,
    issues: [{ field: messagesField, kind, reason }],
    unknownKeys
  })
  if (!messages.some((m) => m.role === "assistant")) return rejected("no_assistant_turn", "no assistant turn to train on")
  const empty = messages.findIndex((m) => m.role === "assistant" && m.content.trim() === "" && m.tool_calls === null)
  if (empty !== -1) {
    return rejected("empty_assistant_reply", `message ${empty + 1} of ${messages.length} is an empty assistant reply (nothing to train on)`)
  }
  const last = messages.at(-1)!
  if (last.role !== "assistant") {
    return rejected(
      "not_ending_with_assistant",
      `the conversation ends with a ${last.role} turn, not the assistant's (nothing to learn from its end; truncated?)`
    )
  }
  return { conversation: { messages, tools }, issues, unknownKeys }
}
