/**
 * The key manifest: every fact that decides a stage's outputs, as documented data. Each field says
 * why it is in the key. The manifest is stored with the stage record and the run record so
 * `pipeline explain` can name the exact difference between two keys.
 */
import { Schema } from "effect"

/** Bump when the meaning of a manifest field changes: every key changes with it (2: code.packages). */
export const schemeVersion = 2

/**
 * The engine's own version. Files under src/ are not in code digests (every stage would rerun on
 * any engine edit, a CLI colour change included); bump this when the engine changes how artifacts
 * are encoded or what a stage sees, which is what actually changes outputs.
 */
export const engineVersion = "0.1.0/1"

const JsonValue = Schema.Unknown

/** Identity of one input artifact: its content digest and name (a blob's name is visible to the stage). */
export const InputIdentity = Schema.Struct({
  digest: Schema.String,
  name: Schema.String
})

/** The code a stage runs, file by file. */
export const CodeManifest = Schema.Struct({
  /** Stage module and its local imports (transitively) and `extraCode`, project-relative path → sha256. */
  files: Schema.Record(Schema.String, Schema.String),
  /**
   * Every package those files import, name → installed version: an upgrade can change outputs
   * without a line of the stage changing. Absent in manifests of scheme 1.
   */
  packages: Schema.optional(Schema.Record(Schema.String, Schema.String)),
  /** Explicit salt from `defineStage({ version })`, null when absent. */
  version: Schema.NullOr(Schema.String)
})

/** Schema of a key manifest. Fields in the order they are documented; canonical JSON sorts them anyway. */
export const KeyManifest = Schema.Struct({
  /** Hash-scheme version: changes when the manifest itself changes meaning. */
  scheme: Schema.Number,
  /** Engine version: engine code that shapes outputs (artifact encodings, contexts). */
  engine: Schema.String,
  /**
   * Stage name: which computation. The instance name enters only through the seed, so instances
   * that compute the same thing without randomness share one result.
   */
  stage: Schema.String,
  /** The stage's code: what it computes. */
  code: CodeManifest,
  /** Decoded config, canonical: what it was asked to compute. */
  config: JsonValue,
  /** Upstream output digests, not upstream keys: a byte-identical upstream output stops reruns there. */
  inputs: Schema.Record(Schema.String, Schema.NullOr(InputIdentity)),
  /** Declared environment facts that change results (backend, dtype, sanity mode if the stage reads it). */
  env: Schema.Record(Schema.String, Schema.String),
  /** The stage's seed if it reads one (randomness is then part of what it computes), else null. */
  seed: Schema.NullOr(Schema.Number)
})

/** A key manifest. */
export type KeyManifest = typeof KeyManifest.Type
