/**
 * The content-addressed store: immutable objects by sha256, JSON documents for stage and run
 * records, mid-stage checkpoints, scoped temporary directories and cross-process locks.
 *
 * Layout under `root`: objects/sha256/ab/<digest>, stages/<key>.json, runs/<runId>.json (and the
 * run's telemetry folder runs/<runId>/), checkpoints/<key>/<step>/{manifest.json,files/},
 * roots/, tmp/, locks/, quarantine/, verified.json. Documents are opaque JSON here (their schemas
 * belong to the engine), sealed with the sha256 of their text.
 *
 * Every read is verified: an object whose bytes do not hash to its name, a document whose seal
 * does not match and a checkpoint file that fails its manifest are moved to quarantine/ and
 * reported, never returned, so the caller can recompute what it needs.
 */
import type { Effect, Option, Scope } from "effect"
import { Context, Schema } from "effect"
import type { Digest } from "./Digest.ts"

export type { Digest } from "./Digest.ts"

/** An object in the store, named by its content. */
export interface ObjectRef {
  readonly digest: Digest
  readonly size: number
}

/** The two kinds of JSON document the store keeps. */
export type DocumentKind = "stages" | "runs"

/** A store operation failed; `method` is the operation, `key` the id, digest or path involved. */
export class StoreError extends Schema.TaggedError<StoreError>()("StoreError", {
  method: Schema.String,
  key: Schema.String,
  message: Schema.String,
  cause: Schema.optional(Schema.Unknown)
}) {}

/** An object's bytes do not match its name (wrong size or wrong sha256); it was moved to quarantine/. */
export class CorruptObject extends Schema.TaggedError<CorruptObject>()("CorruptObject", {
  digest: Schema.String,
  message: Schema.String
}) {}

/** An object is not in the store (never written, swept, or quarantined). */
export class MissingObject extends Schema.TaggedError<MissingObject>()("MissingObject", {
  digest: Schema.String,
  message: Schema.String
}) {}

/** A document's text does not match its seal or is not JSON; it was moved to quarantine/. */
export class CorruptDocument extends Schema.TaggedError<CorruptDocument>()("CorruptDocument", {
  kind: Schema.String,
  id: Schema.String,
  message: Schema.String,
  /** What is wrong, without the document's name. */
  problem: Schema.String
}) {}

/** What gc must keep: object digests and stage keys (a key keeps its record and checkpoints). */
export interface Roots {
  readonly objects: ReadonlySet<Digest>
  readonly keys: ReadonlySet<string>
}

/** A checkpoint as a stage reads it: the step and a read-only directory of exactly the files saved. */
export interface Checkpoint {
  readonly step: number
  readonly dir: string
}

/** What `latestCheckpoint` found: the newest sound checkpoint, and those it discarded on the way. */
export interface LatestCheckpoint {
  readonly checkpoint: Option.Option<Checkpoint>
  readonly discarded: ReadonlyArray<{ readonly step: number; readonly message: string }>
}

/** Something found damaged and moved to quarantine/. */
export interface Damage {
  readonly kind: "object" | "stages" | "runs" | "checkpoint"
  /** Digest, document id, or `key/step` of a checkpoint. */
  readonly id: string
  /** What was wrong (the item itself is named by `kind` and `id`). */
  readonly message: string
}

/** How many checkpoints every store keeps a key: the newest, and one to fall back to if it fails its digests. */
export const keptCheckpoints = 2

/** What every store implementation provides. */
export interface StoreShape {
  /** Absolute root directory; objects, documents and temporary directories all live under it. */
  readonly root: string
  /** Adds a file by streaming sha256; `move` renames it into the store instead of copying. Idempotent. */
  readonly putFile: (path: string, options?: { readonly move?: boolean }) => Effect.Effect<ObjectRef, StoreError>
  /** Adds bytes held in memory. Idempotent. */
  readonly putBytes: (bytes: Uint8Array) => Effect.Effect<ObjectRef, StoreError>
  /** The read-only path of an object, for streaming readers (who must `verifyObject` first). */
  readonly objectPath: (digest: Digest) => string
  /** Reads a whole object, checking its size and digest. */
  readonly readBytes: (ref: ObjectRef) => Effect.Effect<Uint8Array, StoreError | CorruptObject | MissingObject>
  /** Re-hashes an object in place (one streaming pass, whatever its size). */
  readonly verifyObject: (ref: ObjectRef) => Effect.Effect<void, StoreError | CorruptObject | MissingObject>
  /**
   * Checks an object without re-reading it when its size, mtime and inode are those it had when it
   * was last hashed (and that hash was not racy); otherwise re-hashes it. What a cache hit uses.
   */
  readonly checkObject: (ref: ObjectRef) => Effect.Effect<void, StoreError | CorruptObject | MissingObject>
  /** Whether the object exists with the expected size (the content is not re-hashed). */
  readonly hasObject: (ref: ObjectRef) => Effect.Effect<boolean, StoreError>
  /** A fresh directory under tmp/, removed when the scope closes. */
  readonly makeTmpDir: Effect.Effect<string, StoreError, Scope.Scope>
  /** The document `kind/id` (its seal checked), or none if it was never written or was deleted. */
  readonly getDocument: (kind: DocumentKind, id: string) => Effect.Effect<Option.Option<unknown>, StoreError | CorruptDocument>
  /** Writes a JSON object as a document atomically: readers see the old one or the new one, never a part. */
  readonly putDocument: (kind: DocumentKind, id: string, doc: unknown) => Effect.Effect<void, StoreError>
  /** Removes a document (and a run's folder beside it); removing a missing one is not an error. */
  readonly deleteDocument: (kind: DocumentKind, id: string) => Effect.Effect<void, StoreError>
  /** Moves a document that its reader cannot use into quarantine/, naming why. */
  readonly quarantineDocument: (kind: DocumentKind, id: string, reason: string) => Effect.Effect<void, StoreError>
  /** Every document of `kind`, with its last write time. */
  readonly listDocuments: (
    kind: DocumentKind
  ) => Effect.Effect<ReadonlyArray<{ readonly id: string; readonly mtimeMs: number }>, StoreError>
  /**
   * Checks the seal of every document of `kind` that changed since it was last checked (unchanged
   * ones cost a stat); damaged ones are quarantined and returned.
   */
  readonly checkDocuments: (kind: DocumentKind) => Effect.Effect<ReadonlyArray<Damage>, StoreError>
  /** Runs `effect` holding the cross-process lock `name`, waiting for it if needed; stale locks of dead pids are broken. */
  readonly withLock: <A, E, R>(name: string, effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E | StoreError, R>
  /**
   * While the scope is open, every object and stage key this store writes or checks is a root that
   * gc keeps, in every process: a run holds this for its whole length.
   */
  readonly pinning: Effect.Effect<void, StoreError, Scope.Scope>
  /**
   * Copies `dir` as checkpoint `step` of stage `key`, atomically, with a manifest of its files'
   * digests; a key keeps its {@link keptCheckpoints} newest checkpoints, so one that fails its digests leaves another.
   */
  readonly saveCheckpoint: (key: string, step: number, dir: string) => Effect.Effect<void, StoreError>
  /**
   * The checkpoint with the highest step whose files match their manifest (each re-hashed); newer
   * ones that do not are quarantined and listed in `discarded`.
   */
  readonly latestCheckpoint: (key: string) => Effect.Effect<LatestCheckpoint, StoreError>
  /** Removes every checkpoint of `key` (after its stage committed, or to restart it from scratch). */
  readonly clearCheckpoints: (key: string) => Effect.Effect<void, StoreError>
  /** Re-hashes every object, document seal and checkpoint; damaged ones are quarantined and listed. */
  readonly verifyAll: Effect.Effect<
    {
      readonly objects: number
      readonly bytes: number
      readonly documents: number
      readonly checkpoints: number
      readonly damaged: ReadonlyArray<Damage>
    },
    StoreError
  >
  /**
   * Garbage collection, excluding every other gc and every pin taken meanwhile: holds the gc lock,
   * reads the roots pinned by live processes, asks `plan` (given them) for the roots of the records
   * it keeps (the plan deletes the records it drops), and deletes every object and checkpoint that
   * neither names, plus tmp/ entries and roots files of dead owners and old quarantined entries.
   */
  readonly collect: <E, R>(
    plan: (pinned: Roots) => Effect.Effect<Roots, E, R>,
    options: { readonly dryRun: boolean }
  ) => Effect.Effect<{ readonly objects: number; readonly bytes: number }, E | StoreError, R>
}

/** The store service. */
export class Store extends Context.Service<Store, StoreShape>()("sft/Store") {}
