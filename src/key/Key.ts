/**
 * Stage keys: the sha256 of a stage's canonical key manifest. This module is the only place that
 * makes a `Key`, so every value of that type was computed from a manifest (or checked when read back).
 */
import { createHash } from "node:crypto"
import { Schema } from "effect"
import { canonicalJson } from "./Canonical.ts"
import type { KeyManifest } from "./Manifest.ts"

/** A stage key: 64 lowercase hex characters. */
export const Key = Schema.String.pipe(
  Schema.check(Schema.isPattern(/^[0-9a-f]{64}$/, { expected: "a stage key (64 lowercase hex characters)" })),
  Schema.brand("StageKey")
)

/** A stage key. */
export type Key = typeof Key.Type

/** The key of a manifest. */
export const keyOf = (manifest: KeyManifest): Key =>
  createHash("sha256").update(canonicalJson(manifest)).digest("hex") as Key

/** The short form shown to people. */
export const short = (key: string): string => key.slice(0, 12)
