/**
 * Small checks shared by the row formats: what a row field holds and which keys a row has that no
 * format reads (those are counted, never dropped silently).
 */
import type { FieldIssue, IssueKind } from "./report.ts"
import { typeName } from "./report.ts"

/** A JSON object (not a list, not null). */
export const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value)

/** Columnar files store an absent optional field as null; both mean "not given". */
export const isAbsent = (value: unknown): value is null | undefined => value === undefined || value === null

/** `messages` + `[2]` + `.role` style paths. */
export const fieldPath = (parent: string, child: string | number): string =>
  typeof child === "number" ? `${parent}[${child}]` : parent === "" ? child : `${parent}.${child}`

/**
 * A required string field; pushes an issue and returns undefined when it is absent or not a
 * string (an issue of kind `wrongType`: message contents report `non_string_content`).
 */
export const requireString = (
  record: Record<string, unknown>,
  key: string,
  path: string,
  issues: Array<FieldIssue>,
  wrongType: IssueKind = "wrong_type"
): string | undefined => {
  const value = record[key]
  const field = fieldPath(path, key)
  if (isAbsent(value)) {
    issues.push({ field, kind: "missing_field", reason: "missing (expected a string)" })
    return undefined
  }
  if (typeof value !== "string") {
    issues.push({ field, kind: wrongType, reason: `expected a string, got ${typeName(value)}` })
    return undefined
  }
  return value
}

/** An optional string field: absent gives undefined, anything but a string is an issue. */
export const optionalString = (
  record: Record<string, unknown>,
  key: string,
  path: string,
  issues: Array<FieldIssue>
): string | undefined => isAbsent(record[key]) ? undefined : requireString(record, key, path, issues)

/**
 * Records keys of `record` that are not in `known` and hold a value, as `path.key` ("" path gives
 * the bare key). Null values are not counted: columnar files give every row every struct field.
 */
export const collectUnknownKeys = (
  record: Record<string, unknown>,
  known: ReadonlySet<string>,
  path: string,
  unknownKeys: Array<string>
): void => {
  for (const [key, value] of Object.entries(record)) {
    if (!known.has(key) && !isAbsent(value)) unknownKeys.push(path === "" ? key : `${path}.${key}`)
  }
}
