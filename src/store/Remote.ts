/**
 * A shared store that many machines use at once (a team's bucket), split by what it holds:
 * objects by digest, and records (stage and run records) as sealed JSON text. It has no local
 * paths: stages still read and write files, through the local store that caches it
 * (CachedStore.ts), which is also where temporary directories, locks and checkpoints live.
 *
 * Layout under the prefix, as on disk: objects/sha256/ab/<digest>, stages/<key>.json,
 * runs/<runId>.json, checkpoints/<key>.<step>.json, leases/<lock>.json, quarantine/… for what
 * failed its check.
 *
 * Objects are content-addressed, so two machines uploading one digest at once is harmless. A stage
 * record is created only if absent, so of two drivers that computed one key exactly one record
 * wins; the loser adopts the winner's (same key, same output digests). Run records are rewritten as
 * their run progresses, and only by the run that owns them.
 */
import type { Option } from "effect"
import { Context, Effect } from "effect"
import type { Digest } from "./Digest.ts"
import { type DocumentKind, type ObjectRef, StoreError } from "./Store.ts"

/**
 * What records hold: the store's documents; checkpoint manifests (`<key>.<step>`: the step and
 * the digest of each file, the files being objects); and the leases that make a lock span
 * machines (Lease.ts).
 */
export type RecordKind = DocumentKind | "checkpoints" | "leases"

/** Fails unless `kind` is a record kind (callers may bypass the type). */
export const validateRecordKind = (method: string, kind: unknown): Effect.Effect<RecordKind, StoreError> =>
  kind === "stages" || kind === "runs" || kind === "checkpoints" || kind === "leases"
    ? Effect.succeed(kind)
    : Effect.fail(
      new StoreError({ method, key: String(kind), message: `unknown record kind ${String(kind)}: expected "stages", "runs", "checkpoints" or "leases"` })
    )

/**
 * Bytes to upload, read in pieces so that an object of any size goes up with bounded memory.
 * `read` may be called for any range, in any order, more than once.
 */
export interface ObjectSource {
  readonly size: number
  readonly read: (offset: number, length: number) => Effect.Effect<Uint8Array, StoreError>
}

/** A record's sealed text and when it was last written. */
export interface RemoteRecord {
  readonly text: string
  readonly mtimeMs: number
}

/** What a shared store provides. */
export interface RemoteShape {
  /** Where it is, for messages (`s3://bucket/prefix`). */
  readonly location: string
  /** Whether the object exists with the expected size (not re-hashed). */
  readonly hasObject: (ref: ObjectRef) => Effect.Effect<boolean, StoreError>
  /**
   * Uploads an object unless it exists. The source's bytes are hashed on the way and the upload is
   * abandoned if they are not `ref`, so a bucket never holds an object under a wrong name.
   */
  readonly putObject: (ref: ObjectRef, source: ObjectSource) => Effect.Effect<void, StoreError>
  /**
   * The object's bytes as they arrive, or none when it is absent. Not verified here: the reader
   * hashes them and quarantines the object if they are not `ref`.
   */
  readonly getObject: (ref: ObjectRef) => Effect.Effect<Option.Option<AsyncIterable<Uint8Array>>, StoreError>
  /** Moves a damaged object aside (to quarantine/), naming why. */
  readonly quarantineObject: (digest: Digest, reason: string) => Effect.Effect<void, StoreError>
  /** The record `kind/id`, or none. */
  readonly getRecord: (kind: RecordKind, id: string) => Effect.Effect<Option.Option<RemoteRecord>, StoreError>
  /** Creates the record only if there is none; false when another writer's is already there. */
  readonly createRecord: (kind: RecordKind, id: string, text: string) => Effect.Effect<boolean, StoreError>
  /** Writes the record, replacing any (a run's own record as the run goes). */
  readonly putRecord: (kind: RecordKind, id: string, text: string) => Effect.Effect<void, StoreError>
  /** Removes a record; removing a missing one is not an error. */
  readonly deleteRecord: (kind: RecordKind, id: string) => Effect.Effect<void, StoreError>
  /** Moves a record its reader cannot use to quarantine/, naming why. */
  readonly quarantineRecord: (kind: RecordKind, id: string, reason: string) => Effect.Effect<void, StoreError>
  /** Every record of `kind` (whose id starts with `idPrefix`, when given), with its last write time. */
  readonly listRecords: (
    kind: RecordKind,
    idPrefix?: string
  ) => Effect.Effect<ReadonlyArray<{ readonly id: string; readonly mtimeMs: number }>, StoreError>
}

/** The shared store service. */
export class Remote extends Context.Service<Remote, RemoteShape>()("sft/Remote") {}
