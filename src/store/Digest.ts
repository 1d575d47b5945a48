/**
 * Content digests of store objects: lowercase hex sha256.
 *
 * `Digest` is a branded string and this module is the only place that makes one, so a value typed
 * `Digest` has always been checked (or computed) rather than merely asserted.
 */
import { createHash, type Hash } from "node:crypto"
import { Schema } from "effect"

const pattern = /^[0-9a-f]{64}$/

/** Schema of a digest: 64 lowercase hex characters, branded. Use it inside record schemas. */
export const Digest = Schema.String.pipe(
  Schema.check(Schema.isPattern(pattern, { expected: "a sha256 digest (64 lowercase hex characters)" })),
  Schema.brand("Digest")
)

/** A checked sha256 digest. */
export type Digest = typeof Digest.Type

/** Whether `value` is a well-formed digest. */
export const isDigest = (value: unknown): value is Digest => typeof value === "string" && pattern.test(value)

/** A fresh incremental sha256, for streaming. Finish it with `fromHash`. */
export const hasher = (): Hash => createHash("sha256")

/** Finishes an incremental hash made by `hasher`. */
export const fromHash = (hash: Hash): Digest => hash.digest("hex") as Digest

/** The digest of bytes held in memory. */
export const ofBytes = (bytes: Uint8Array): Digest => fromHash(hasher().update(bytes))
