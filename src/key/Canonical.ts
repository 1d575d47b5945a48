/**
 * Canonical JSON: the one encoding of configs (and key manifests) that enters a hash.
 *
 * Object keys are sorted by code unit, numbers use ECMAScript's shortest round-trip form (so 1, 1.0
 * and 1e0 are one encoding), and anything without a single obvious JSON meaning is a hard error
 * naming its JSON-pointer path: silently dropping `undefined` or turning NaN into `null` would make
 * two different configs share a key.
 */
import { Schema } from "effect"

/** A JSON value as it appears in canonical form. */
export type Json = null | boolean | number | string | ReadonlyArray<Json> | { readonly [key: string]: Json }

/** A value cannot be hashed canonically; `path` is a JSON pointer into it. */
export class NotCanonical extends Schema.TaggedError<NotCanonical>()("NotCanonical", {
  path: Schema.String,
  message: Schema.String
}) {}

const pointer = (path: ReadonlyArray<string>): string =>
  path.length === 0 ? "/" : path.map((part) => "/" + part.replaceAll("~", "~0").replaceAll("/", "~1")).join("")

const describe = (value: unknown): string => {
  if (value === undefined) return "undefined"
  if (typeof value === "function") return "a function"
  if (typeof value === "bigint") return "a bigint"
  if (typeof value === "symbol") return "a symbol"
  if (typeof value === "number") return String(value)
  if (value instanceof Map) return "a Map"
  if (value instanceof Set) return "a Set"
  const name = (value as object).constructor?.name
  return name ? `an instance of ${name}` : "an exotic object"
}

const isPlainObject = (value: object): boolean => {
  const proto = Object.getPrototypeOf(value)
  return proto === Object.prototype || proto === null
}

/** Checks `value` and returns it as canonical JSON data (sorted keys); throws NotCanonical. */
export const toCanonical = (value: unknown, path: ReadonlyArray<string> = []): Json => {
  if (value === null || typeof value === "boolean" || typeof value === "string") return value
  if (typeof value === "number") {
    if (!Number.isFinite(value)) {
      throw new NotCanonical({ path: pointer(path), message: `${describe(value)} has no canonical encoding` })
    }
    return Object.is(value, -0) ? 0 : value
  }
  if (typeof value === "object") {
    if (Array.isArray(value)) return value.map((item, index) => toCanonical(item, [...path, String(index)]))
    if (isPlainObject(value)) {
      const out: Record<string, Json> = {}
      for (const key of Object.keys(value).sort()) {
        out[key] = toCanonical((value as Record<string, unknown>)[key], [...path, key])
      }
      if (Object.getOwnPropertySymbols(value).length > 0) {
        throw new NotCanonical({ path: pointer(path), message: "symbol keys have no canonical encoding" })
      }
      return out
    }
  }
  throw new NotCanonical({ path: pointer(path), message: `${describe(value)} has no canonical encoding` })
}

/** Canonical JSON text of `value`; throws NotCanonical. */
export const canonicalJson = (value: unknown): string => JSON.stringify(toCanonical(value))

/** The JSON pointer of a path (exported for messages that name config paths). */
export const jsonPointer = pointer
