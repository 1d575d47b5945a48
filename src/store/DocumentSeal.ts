/**
 * Sealed documents: a document's pretty-printed JSON with the sha256 of that text added as its last
 * field, so a flipped byte anywhere (a digest character, a metric's digit) is detected on read, and
 * the file is still plain JSON for people and tools that read it directly:
 *
 *   {
 *     "key": "…",
 *     …,
 *     "sha256": "<sha256 of the text without this field>"
 *   }
 *
 * The seal is checked on the file's bytes, not on a re-serialisation, so it cannot depend on how
 * JSON.stringify formats a value.
 *
 * A document without a seal (written before documents had one) is read if it is JSON: its body
 * cannot be checked, but refusing it would throw away a store's history. A flip that breaks the
 * seal's own line also reads as unsealed, which loses nothing: the body it leaves is intact.
 */
import { createHash } from "node:crypto"

/** The field the seal is stored in; a document cannot have a field of its own by that name. */
export const sealField = "sha256"

const trailer = new RegExp(`(,?)\\n  "${sealField}": "([0-9a-f]{64})"\\n\\}\\n$`)

const sha256 = (text: string): string => createHash("sha256").update(text, "utf8").digest("hex")

/** The sealed text of a document; undefined when it is not a JSON object or already has the field. */
export const seal = (doc: unknown): string | undefined => {
  if (typeof doc !== "object" || doc === null || Array.isArray(doc) || Object.hasOwn(doc, sealField)) return undefined
  const text = JSON.stringify(doc, null, 2)
  const field = `\n  "${sealField}": "${sha256(text)}"\n}\n`
  return text === "{}" ? `{${field}` : `${text.slice(0, -2)},${field}`
}

/** The document inside a sealed text, or why it cannot be trusted. */
export const unseal = (sealed: string): { readonly doc: unknown } | { readonly problem: string } => {
  const match = trailer.exec(sealed)
  if (match === null) {
    try {
      return { doc: JSON.parse(sealed) as unknown }
    } catch (error) {
      return { problem: `not JSON and without a ${sealField} seal (truncated or damaged): ${(error as Error).message}` }
    }
  }
  const head = sealed.slice(0, match.index)
  const text = match[1] === "," ? `${head}\n}` : head === "{" ? "{}" : undefined
  if (text === undefined) return { problem: "malformed seal" }
  const actual = sha256(text)
  if (actual !== match[2]) return { problem: `its text hashes to ${actual.slice(0, 12)}…, the seal says ${match[2]!.slice(0, 12)}…` }
  try {
    return { doc: JSON.parse(text) as unknown }
  } catch (error) {
    return { problem: `sealed text is not JSON: ${(error as Error).message}` }
  }
}
