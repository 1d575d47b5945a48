/**
 * The alpaca format `{ instruction, input, output, system?, history? }` as LLaMA-Factory reads it:
 * user = instruction, plus "\n\n" + input when input is not empty; assistant = output; `history` is a
 * list of earlier `[instruction, response]` pairs.
 */
import type { FieldIssue } from "./report.ts"
import type { Message } from "./conversation.ts"
import { finish, message } from "./conversation.ts"
import { collectUnknownKeys, fieldPath, isAbsent, optionalString, requireString } from "./fields.ts"
import type { RowFormat } from "./format.ts"
import { typeName } from "./report.ts"

const knownKeys: ReadonlySet<string> = new Set(["instruction", "input", "output", "system", "history"])

const readHistory = (value: unknown, issues: Array<FieldIssue>): Array<Message> => {
  if (isAbsent(value)) return []
  if (!Array.isArray(value)) {
    issues.push({ field: "history", kind: "wrong_type", reason: `expected a list of [instruction, response] pairs, got ${typeName(value)}` })
    return []
  }
  return value.flatMap((pair: unknown, index) => {
    if (Array.isArray(pair) && pair.length === 2 && typeof pair[0] === "string" && typeof pair[1] === "string") {
      return [message("user", pair[0]), message("assistant", pair[1])]
    }
    issues.push({ field: fieldPath("history", index), kind: "wrong_type", reason: "expected an [instruction, response] pair of strings" })
    return []
  })
}

/** `{ instruction, input?, output, system?, history? }` rows. */
export const alpacaFormat: RowFormat = {
  name: "alpaca",
  matches: (row) => "instruction" in row && "output" in row,
  normalise: (row) => {
    const issues: Array<FieldIssue> = []
    const unknownKeys: Array<string> = []
    collectUnknownKeys(row, knownKeys, "", unknownKeys)
    const system = optionalString(row, "system", "", issues)
    const history = readHistory(row.history, issues)
    const instruction = requireString(row, "instruction", "", issues)
    const input = optionalString(row, "input", "", issues) ?? ""
    const output = requireString(row, "output", "", issues)
    const messages: Array<Message> = [
      ...(system === undefined || system === "" ? [] : [message("system", system)]),
      ...history,
      ...(instruction === undefined ? [] : [message("user", input === "" ? instruction : `${instruction}\n\n${input}`)]),
      ...(output === undefined ? [] : [message("assistant", output)])
    ]
    return finish(messages, null, "output", issues, unknownKeys)
  }
}
