/**
 * The content-addressed store: immutable objects by sha256, JSON documents for stage and run
 * records, mid-stage checkpoints, scoped temporary directories and cross-process locks.
 *
 * Layout under `root`: objects/sha256/ab/<digest>, stages/<key>.json, runs/<runId>.json,
 * checkpoints/<key>/<step>/, tmp/, locks/, quarantine/. Documents are opaque JSON here; their
 * schemas belong to the engine.
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

/** An object's bytes do not match its name: wrong size or wrong sha256. */
export class CorruptObject extends Schema.TaggedError<CorruptObject>()("CorruptObject", {
  digest: Schema.String,
  message: Schema.String
}) {}

/** What every store implementation provides. */
export interface StoreShape {
  /** Absolute root directory; objects, documents and temporary directories all live under it. */
  readonly root: string
  /** Adds a file by streaming sha256; `move` renames it into the store instead of copying. Idempotent. */
  readonly putFile: (path: string, options?: { readonly move?: boolean }) => Effect.Effect<ObjectRef, StoreError>
  /** Adds bytes held in memory. Idempotent. */
  readonly putBytes: (bytes: Uint8Array) => Effect.Effect<ObjectRef, StoreError>
  /** The read-only path of an object, for streaming readers (who should `verifyObject` first). */
  readonly objectPath: (digest: Digest) => string
  /** Reads a whole object, checking its size and digest. */
  readonly readBytes: (ref: ObjectRef) => Effect.Effect<Uint8Array, StoreError | CorruptObject>
  /** Re-hashes an object in place without holding it in memory. */
  readonly verifyObject: (ref: ObjectRef) => Effect.Effect<void, StoreError | CorruptObject>
  /** Whether the object exists with the expected size (the content is not re-hashed). */
  readonly hasObject: (ref: ObjectRef) => Effect.Effect<boolean, StoreError>
  /** A fresh directory under tmp/, removed when the scope closes. */
  readonly makeTmpDir: Effect.Effect<string, StoreError, Scope.Scope>
  /** The document `kind/id`, or none if it was never written or was deleted. */
  readonly getDocument: (kind: DocumentKind, id: string) => Effect.Effect<Option.Option<unknown>, StoreError>
  /** Writes a document atomically: readers see the old one or the new one, never a part. */
  readonly putDocument: (kind: DocumentKind, id: string, doc: unknown) => Effect.Effect<void, StoreError>
  /** Removes a document; removing a missing one is not an error. */
  readonly deleteDocument: (kind: DocumentKind, id: string) => Effect.Effect<void, StoreError>
  /** Every document of `kind`, with its last write time. */
  readonly listDocuments: (
    kind: DocumentKind
  ) => Effect.Effect<ReadonlyArray<{ readonly id: string; readonly mtimeMs: number }>, StoreError>
  /** Runs `effect` holding the cross-process lock `name`, waiting for it if needed; stale locks of dead pids are broken. */
  readonly withLock: <A, E, R>(name: string, effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E | StoreError, R>
  /** Copies `dir` as checkpoint `step` of stage `key`, atomically; a key keeps only its last saved checkpoint. */
  readonly saveCheckpoint: (key: string, step: number, dir: string) => Effect.Effect<void, StoreError>
  /** The checkpoint with the highest step, if any. Treat its `dir` as read-only. */
  readonly latestCheckpoint: (
    key: string
  ) => Effect.Effect<Option.Option<{ readonly step: number; readonly dir: string }>, StoreError>
  /** Removes every checkpoint of `key` (after its stage committed, or to restart it from scratch). */
  readonly clearCheckpoints: (key: string) => Effect.Effect<void, StoreError>
  /** Re-hashes every object; corrupt ones are moved to quarantine/ so the next run recomputes them. */
  readonly verifyAll: Effect.Effect<
    { readonly checked: number; readonly bytes: number; readonly corrupt: ReadonlyArray<Digest> },
    StoreError
  >
  /** Deletes objects not in `live`, checkpoints of keys not in `liveKeys`, and stale tmp/ entries. */
  readonly sweep: (
    live: ReadonlySet<Digest>,
    liveKeys: ReadonlySet<string>,
    options: { readonly dryRun: boolean }
  ) => Effect.Effect<{ readonly objects: number; readonly bytes: number }, StoreError>
}

/** The store service. */
export class Store extends Context.Service<Store, StoreShape>()("sft/Store") {}
