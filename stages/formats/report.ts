/**
 * What is wrong with one input row, in the `file:line: field: reason` form users see.
 */

/** Why a row was rejected; the stage metrics count rows per kind (`invalid.<kind>`). */
export type IssueKind =
  | "invalid_utf8"
  | "invalid_json"
  | "not_an_object"
  | "missing_field"
  | "wrong_type"
  | "unknown_role"
  | "non_string_content"
  | "empty_conversation"
  | "no_assistant_turn"
  | "empty_assistant_reply"
  | "not_ending_with_assistant"
  | "bad_tool_call"
  | "bad_tools"

/** One problem inside a row; `field` is a path such as `messages[2].role` ("" for the row itself). */
export interface FieldIssue {
  readonly field: string
  readonly reason: string
  readonly kind: IssueKind
}

/** A problem tied to where the row came from: `train.jsonl:17` or `train.parquet:row 16`. */
export interface RowReport extends FieldIssue {
  readonly location: string
}

/** `train.jsonl:17: messages[2].role: "assitant" is not one of system|user|assistant|tool` */
export const formatReport = (report: RowReport): string =>
  report.field === ""
    ? `${report.location}: ${report.reason}`
    : `${report.location}: ${report.field}: ${report.reason}`

/** The JSON type name of a value, for "expected a string, got number" messages. */
export const typeName = (value: unknown): string => {
  if (value === null) return "null"
  if (Array.isArray(value)) return "list"
  if (value === undefined) return "nothing"
  return typeof value === "object" ? "object" : typeof value
}

/** Quotes a user value for a message, shortened so one bad row cannot flood the report. */
export const quote = (value: unknown): string => {
  const text = typeof value === "bigint" ? String(value) : JSON.stringify(value) ?? String(value)
  return text.length > 60 ? `${text.slice(0, 57)}...` : text
}
