/**
 * Tool calls and tool schemas, normalised to the OpenAI form chat templates expect:
 * calls `[{ type: "function", function: { name, arguments } }]` (arguments an object, or its JSON text as given) and tools
 * `[{ type: "function", function: { name, description, parameters } }]`, each stored as JSON text.
 */
import { fieldPath, isAbsent, isRecord } from "./fields.ts"
import type { FieldIssue } from "./report.ts"
import { typeName } from "./report.ts"

interface ToolCall {
  readonly type: "function"
  /** As the data gave them: an object, or JSON text of one (see readToolCall). */
  readonly function: { readonly name: string; readonly arguments: Record<string, unknown> | string }
  readonly id?: string
}

/** Datasets often store nested JSON as text (sharegpt values, columnar files); both forms are accepted. */
const parseIfText = (
  value: unknown,
  field: string,
  kind: FieldIssue["kind"],
  issues: Array<FieldIssue>
): unknown => {
  if (typeof value !== "string") return value
  try {
    return JSON.parse(value)
  } catch (error) {
    issues.push({ field, kind, reason: `not valid JSON: ${(error as Error).message}` })
    return undefined
  }
}

/**
 * One call, in OpenAI form `{ type: "function", function: { name, arguments } }` or the flat form
 * `{ name, arguments }` that sharegpt's function_call turns use. `arguments` may be JSON text.
 */
const readToolCall = (value: unknown, field: string, issues: Array<FieldIssue>): ToolCall | undefined => {
  if (!isRecord(value)) {
    issues.push({ field, kind: "bad_tool_call", reason: `expected a tool call object, got ${typeName(value)}` })
    return undefined
  }
  const nested = isRecord(value.function)
  const body = nested ? (value.function as Record<string, unknown>) : value
  const bodyPath = nested ? fieldPath(field, "function") : field
  if (nested && !isAbsent(value.type) && value.type !== "function") {
    issues.push({ field: fieldPath(field, "type"), kind: "bad_tool_call", reason: `expected "function", got ${JSON.stringify(value.type)}` })
    return undefined
  }
  if (typeof body.name !== "string" || body.name === "") {
    issues.push({ field: fieldPath(bodyPath, "name"), kind: "bad_tool_call", reason: "a tool call needs a function name" })
    return undefined
  }
  const argumentsPath = fieldPath(bodyPath, "arguments")
  if (isAbsent(body.arguments)) {
    issues.push({ field: argumentsPath, kind: "bad_tool_call", reason: "missing (expected an object of arguments)" })
    return undefined
  }
  const args = parseIfText(body.arguments, argumentsPath, "bad_tool_call", issues)
  if (args === undefined) return undefined
  if (!isRecord(args)) {
    issues.push({ field: argumentsPath, kind: "bad_tool_call", reason: `expected an object of arguments, got ${typeName(args)}` })
    return undefined
  }
  // Text arguments stay text: templates (Qwen, Hermes) print text as it is and `tojson` an object,
  // and transformers and TRL pass the text through, so parsing it would train a re-spaced string
  // the data never held (`{"city":"Paris"}` rendered as `{"city": "Paris"}`).
  const call = { type: "function" as const, function: { name: body.name, arguments: typeof body.arguments === "string" ? body.arguments : args } }
  return nested && typeof value.id === "string" ? { ...call, id: value.id } : call
}

/**
 * A list of calls (or one call, or JSON text of either) as a JSON array; null when there are none.
 * Returns null and pushes issues when a call is malformed.
 */
export const normaliseToolCalls = (value: unknown, field: string, issues: Array<FieldIssue>): string | null => {
  const parsed = parseIfText(value, field, "bad_tool_call", issues)
  if (parsed === undefined) return null
  const list = Array.isArray(parsed) ? parsed : [parsed]
  const before = issues.length
  const calls = list.map((item: unknown, index) =>
    readToolCall(item, Array.isArray(parsed) ? fieldPath(field, index) : field, issues)
  )
  if (issues.length > before || calls.length === 0) return null
  return JSON.stringify(calls)
}

/** The names of the calls in a normalised tool_calls JSON array. */
export const toolCallNames = (toolCalls: string): ReadonlyArray<string> =>
  (JSON.parse(toolCalls) as ReadonlyArray<ToolCall>).map((call) => call.function.name)

/**
 * Tool schemas (a list, or JSON text of one) as a JSON array in OpenAI form; bare function schemas
 * `{ name, description, parameters }` (LLaMA-Factory's sharegpt) are wrapped. An empty list is null,
 * as chat templates treat "no tools" and "[]" alike.
 */
export const normaliseTools = (value: unknown, field: string, issues: Array<FieldIssue>): string | null => {
  if (isAbsent(value) || value === "") return null
  const parsed = parseIfText(value, field, "bad_tools", issues)
  if (parsed === undefined) return null
  if (!Array.isArray(parsed)) {
    issues.push({ field, kind: "bad_tools", reason: `expected a list of tool schemas, got ${typeName(parsed)}` })
    return null
  }
  const tools: Array<Record<string, unknown>> = []
  parsed.forEach((tool: unknown, index) => {
    const toolField = fieldPath(field, index)
    if (!isRecord(tool)) {
      issues.push({ field: toolField, kind: "bad_tools", reason: `expected a tool schema object, got ${typeName(tool)}` })
    } else if (isRecord(tool.function) && typeof tool.function.name === "string") {
      tools.push(tool)
    } else if (typeof tool.name === "string") {
      tools.push({ type: "function", function: tool })
    } else {
      issues.push({ field: toolField, kind: "bad_tools", reason: "a tool schema needs a name" })
    }
  })
  return tools.length === 0 ? null : JSON.stringify(tools)
}
