/**
 * A shared store held in memory, for tests: the same contract as the bucket (S3Remote.ts),
 * including create-if-absent records and refusing an upload whose bytes are not its name.
 */
import { Effect, Layer, Option } from "effect"
import type { Digest } from "./Digest.ts"
import * as Digests from "./Digest.ts"
import { type RecordKind, Remote, type RemoteRecord, type RemoteShape, validateRecordKind } from "./Remote.ts"
import { StoreError } from "./Store.ts"
import { validateId, validateRef } from "./StoreId.ts"

/** A fresh, empty shared store; `objects` and `records` are exposed so tests can damage them. */
export const makeMemoryRemote = () => {
  const objects = new Map<Digest, Uint8Array>()
  const records = {
    stages: new Map<string, RemoteRecord>(),
    runs: new Map<string, RemoteRecord>(),
    checkpoints: new Map<string, RemoteRecord>(),
    leases: new Map<string, RemoteRecord>()
  }
  const quarantined: Array<string> = []
  const recordsOf = (method: string, kind: RecordKind, id: string) =>
    validateRecordKind(method, kind).pipe(Effect.andThen(validateId(method, id)), Effect.as(records[kind]))

  const remote: RemoteShape = {
    location: "memory://",
    hasObject: (ref) => validateRef("hasObject", ref).pipe(Effect.map(() => objects.get(ref.digest)?.length === ref.size)),
    putObject: (ref, source) =>
      Effect.gen(function* () {
        yield* validateRef("putObject", ref)
        if (objects.get(ref.digest)?.length === ref.size) return
        const bytes = yield* source.read(0, source.size)
        if (bytes.length !== ref.size || Digests.ofBytes(bytes) !== ref.digest) {
          return yield* new StoreError({ method: "putObject", key: ref.digest, message: `object ${ref.digest}: its source changed while it was uploaded` })
        }
        objects.set(ref.digest, Uint8Array.from(bytes))
      }),
    getObject: (ref) =>
      validateRef("getObject", ref).pipe(
        Effect.map(() =>
          Option.map(Option.fromUndefinedOr(objects.get(ref.digest)), (bytes) => ({
            async *[Symbol.asyncIterator]() {
              yield Uint8Array.from(bytes)
            }
          }))
        )
      ),
    quarantineObject: (digest, reason) =>
      Effect.sync(() => {
        if (objects.delete(digest)) quarantined.push(`object ${digest}: ${reason}`)
      }),
    getRecord: (kind, id) => recordsOf("getRecord", kind, id).pipe(Effect.map((map) => Option.fromUndefinedOr(map.get(id)))),
    createRecord: (kind, id, text) =>
      recordsOf("createRecord", kind, id).pipe(
        Effect.map((map) => {
          if (map.has(id)) return false
          map.set(id, { text, mtimeMs: Date.now() })
          return true
        })
      ),
    putRecord: (kind, id, text) => recordsOf("putRecord", kind, id).pipe(Effect.map((map) => void map.set(id, { text, mtimeMs: Date.now() }))),
    deleteRecord: (kind, id) => recordsOf("deleteRecord", kind, id).pipe(Effect.map((map) => void map.delete(id))),
    quarantineRecord: (kind, id, reason) =>
      recordsOf("quarantineRecord", kind, id).pipe(
        Effect.map((map) => {
          if (map.delete(id)) quarantined.push(`${kind}/${id}: ${reason}`)
        })
      ),
    listRecords: (kind, idPrefix = "") =>
      validateRecordKind("listRecords", kind).pipe(
        Effect.map(() => [...records[kind]].filter(([id]) => id.startsWith(idPrefix)).map(([id, record]) => ({ id, mtimeMs: record.mtimeMs })))
      )
  }
  return { remote, objects, records, quarantined }
}

/** A fresh in-memory shared store as a layer. */
export const layerMemoryRemote = (): Layer.Layer<Remote> => Layer.succeed(Remote, makeMemoryRemote().remote)
