/**
 * The store a run uses against a shared store (Remote.ts): a local store in front of it as a
 * read-through cache. Stages get local files as before (temporary directories, object paths,
 * checkpoints and locks are the local store's); what the run writes goes to both.
 *
 * - Objects: read locally; one missing or found damaged locally is downloaded, hashed as it
 *   arrives, and kept only if it is what its name says (a damaged one in the bucket is quarantined
 *   there and reported, so its producer is recomputed). Every put is uploaded before the call
 *   returns, so a stage record, written after its outputs, never names an object the bucket lacks.
 * - Stage records: read locally, else from the bucket (seal checked, then cached). Writing one
 *   creates it in the bucket only if absent; when another writer won, its record is the one kept.
 * - Run records: the bucket's copy is the current one (a run may be going on elsewhere); written
 *   to both.
 * - Locks: the local store's, then a lease in the bucket (Lease.ts), so of two machines that
 *   miss one stage key, one computes it and the other finds its record.
 * - Checkpoints: saved locally, and their files uploaded as objects with a manifest record
 *   (checkpoints/<key>.<step>), two per key as locally; the latest is the newest sound one of
 *   either, so a stage resumes on another machine from where it stopped.
 * - Pins, verifyAll and collect are the local store's: gc sweeps the cache, never the bucket.
 *
 * A cached run therefore costs what it costs locally, plus the writes of its run record.
 */
import { mkdirSync, readdirSync, statSync } from "node:fs"
import { copyFile, open } from "node:fs/promises"
import { dirname, join } from "node:path"
import { Effect, Layer, Option } from "effect"
import * as Digests from "./Digest.ts"
import { seal, unseal } from "./DocumentSeal.ts"
import { hashFile } from "./HashFile.ts"
import { withLease } from "./Lease.ts"
import { Remote, type RemoteShape } from "./Remote.ts"
import {
  CorruptDocument,
  CorruptObject,
  type DocumentKind,
  keptCheckpoints,
  type LatestCheckpoint,
  MissingObject,
  type ObjectRef,
  Store,
  StoreError,
  type StoreShape
} from "./Store.ts"
import { documentText } from "./StoreId.ts"

const short = (digest: string): string => `${digest.slice(0, 12)}…`

/** Reads `length` bytes at `offset` of a local file (an object of the cache, for upload). */
const readRange = (file: string, offset: number, length: number) =>
  Effect.tryPromise({
    try: async () => {
      const handle = await open(file, "r")
      try {
        const bytes = new Uint8Array(length)
        for (let done = 0; done < length;) {
          const { bytesRead } = await handle.read(bytes, done, length - done, offset + done)
          if (bytesRead === 0) throw new Error(`${file} ended at ${offset + done} bytes, expected ${offset + length}`)
          done += bytesRead
        }
        return bytes
      } finally {
        await handle.close()
      }
    },
    catch: (cause) => new StoreError({ method: "putObject", key: file, message: `${file}: ${(cause as Error).message}`, cause })
  })

/** Writes the chunks of `body` to `file`, hashing them on the way. */
const download = (body: AsyncIterable<Uint8Array>, file: string, location: string, ref: ObjectRef) =>
  Effect.tryPromise({
    try: async () => {
      const handle = await open(file, "wx", 0o644)
      const hash = Digests.hasher()
      let size = 0
      try {
        for await (const chunk of body) {
          hash.update(chunk)
          size += chunk.length
          await handle.write(chunk)
        }
      } finally {
        await handle.close()
      }
      return { digest: Digests.fromHash(hash), size }
    },
    catch: (cause) =>
      new StoreError({ method: "fetch", key: ref.digest, message: `${location}: object ${short(ref.digest)}: ${(cause as Error).message}`, cause })
  })

/** A checkpoint's manifest record: its step and each file as an object. */
interface CheckpointRecord {
  readonly step: number
  readonly files: ReadonlyArray<{ readonly path: string; readonly digest: string; readonly size: number }>
}

const isCheckpointRecord = (value: unknown): value is CheckpointRecord => {
  const record = value as Partial<CheckpointRecord> | null
  return typeof record === "object" && record !== null && Number.isSafeInteger(record.step) && Array.isArray(record.files) &&
    record.files.every((file) =>
      typeof file?.path === "string" && !file.path.split("/").some((part: string) => part === "" || part === "." || part === "..") &&
      Digests.isDigest(file.digest) && Number.isSafeInteger(file.size)
    )
}

/** The regular files under `dir`, as sorted "/"-separated relative paths. */
const filesUnder = (dir: string): Array<string> =>
  readdirSync(dir, { recursive: true, encoding: "utf8" })
    .filter((relative) => statSync(join(dir, relative)).isFile())
    .map((relative) => relative.split(/[\\/]/).join("/"))
    .sort()

/** `local` as a read-through cache of `remote`. */
export const make = (local: StoreShape, remote: RemoteShape): StoreShape => {
  const upload = (ref: ObjectRef) =>
    remote.putObject(ref, { size: ref.size, read: (offset, length) => readRange(local.objectPath(ref.digest), offset, length) }).pipe(
      Effect.as(ref)
    )

  /** Brings an object from the bucket into the cache, verified; a damaged one is quarantined there. */
  const fetch = (ref: ObjectRef) =>
    Effect.scoped(
      Effect.gen(function* () {
        const body = yield* remote.getObject(ref)
        if (Option.isNone(body)) {
          return yield* new MissingObject({ digest: ref.digest, message: `object ${short(ref.digest)} is neither in the cache nor in ${remote.location}` })
        }
        const file = join(yield* local.makeTmpDir, "object")
        const got = yield* download(body.value, file, remote.location, ref)
        const problem = got.size !== ref.size
          ? `size ${got.size}, expected ${ref.size}`
          : got.digest !== ref.digest
          ? `content hashes to ${short(got.digest)}`
          : undefined
        if (problem !== undefined) {
          yield* remote.quarantineObject(ref.digest, problem)
          return yield* new CorruptObject({ digest: ref.digest, message: `object ${short(ref.digest)} in ${remote.location}: ${problem}; moved to its quarantine/` })
        }
        yield* local.putFile(file, { move: true })
      })
    )

  /** Runs a local read; when the cache lacks the object or holds a damaged copy, fetches it and reads again. */
  const throughCache = <A>(ref: ObjectRef, read: Effect.Effect<A, StoreError | CorruptObject | MissingObject>) =>
    read.pipe(Effect.catchTags({ MissingObject: () => fetch(ref).pipe(Effect.andThen(read)), CorruptObject: () => fetch(ref).pipe(Effect.andThen(read)) }))

  /** The document in a record's text, or the record's quarantine (in the bucket) and a CorruptDocument. */
  const opened = (kind: DocumentKind, id: string, text: string): Effect.Effect<unknown, StoreError | CorruptDocument> => {
    const result = unseal(text)
    if ("doc" in result) return Effect.succeed(result.doc)
    return remote.quarantineRecord(kind, id, result.problem).pipe(
      Effect.andThen(
        Effect.fail(
          new CorruptDocument({
            kind,
            id,
            message: `${kind}/${id}.json in ${remote.location}: ${result.problem}; moved to its quarantine/`,
            problem: result.problem
          })
        )
      )
    )
  }

  const fromRemote = (kind: DocumentKind, id: string) =>
    Effect.gen(function* () {
      const record = yield* remote.getRecord(kind, id)
      return Option.isNone(record) ? Option.none<unknown>() : Option.some(yield* opened(kind, id, record.value.text))
    })

  const getDocument = (kind: DocumentKind, id: string) =>
    Effect.gen(function* () {
      if (kind === "runs") {
        const current = yield* fromRemote(kind, id)
        return Option.isSome(current) ? current : yield* local.getDocument(kind, id)
      }
      const cached = yield* local.getDocument(kind, id)
      if (Option.isSome(cached)) return cached
      const found = yield* fromRemote(kind, id)
      if (Option.isSome(found)) yield* local.putDocument(kind, id, found.value)
      return found
    })

  const putDocument = (kind: DocumentKind, id: string, doc: unknown) =>
    Effect.gen(function* () {
      const text = yield* documentText(kind, id, doc)
      if (kind === "runs") {
        yield* remote.putRecord(kind, id, text)
        return yield* local.putDocument(kind, id, doc)
      }
      if (yield* remote.createRecord(kind, id, text)) return yield* local.putDocument(kind, id, doc)
      // Another writer committed this key first: its record (same key, same outputs) is the one kept.
      const winner = yield* fromRemote(kind, id).pipe(Effect.catchTag("CorruptDocument", (error) =>
        Effect.fail(new StoreError({ method: "putDocument", key: id, message: error.message }))))
      yield* local.putDocument(kind, id, Option.getOrElse(winner, () => doc))
    })

  const checkpointId = (key: string, step: number) => `${key}.${step}`
  /** The steps of `key` the shared store holds a checkpoint of, newest first. */
  const sharedSteps = (key: string) =>
    remote.listRecords("checkpoints", `${key}.`).pipe(
      Effect.map((records) =>
        records.flatMap(({ id }) => {
          const step = id.slice(key.length + 1)
          return id.startsWith(`${key}.`) && /^(0|[1-9]\d*)$/.test(step) ? [Number(step)] : []
        }).sort((a, b) => b - a)
      )
    )

  const checkpointError = (key: string, cause: unknown) =>
    new StoreError({ method: "saveCheckpoint", key, message: `checkpoint of ${key}: ${(cause as Error).message}`, cause })

  const saveCheckpoint = (key: string, step: number, dir: string) =>
    Effect.gen(function* () {
      yield* local.saveCheckpoint(key, step, dir)
      const paths = yield* Effect.try({ try: () => filesUnder(dir), catch: (cause) => checkpointError(key, cause) })
      const files: Array<CheckpointRecord["files"][number]> = []
      for (const path of paths) {
        // Uploaded from the stage's directory, not made an object of the cache: the cache holds the checkpoint already.
        const file = join(dir, ...path.split("/"))
        const ref = yield* Effect.tryPromise({ try: () => hashFile(file), catch: (cause) => checkpointError(key, cause) })
        yield* remote.putObject(ref, { size: ref.size, read: (offset, length) => readRange(file, offset, length) })
        files.push({ path, ...ref })
      }
      yield* remote.putRecord("checkpoints", checkpointId(key, step), seal({ step, files } satisfies CheckpointRecord)!)
      for (const old of (yield* sharedSteps(key)).slice(keptCheckpoints)) yield* remote.deleteRecord("checkpoints", checkpointId(key, old))
    })

  /** Brings checkpoint `step` of `key` from the shared store into the cache; what was wrong with it, if anything. */
  const fetchCheckpoint = (key: string, step: number) =>
    Effect.scoped(
      Effect.gen(function* () {
        const record = yield* remote.getRecord("checkpoints", checkpointId(key, step))
        if (Option.isNone(record)) return Option.some("gone from the shared store")
        const opened = unseal(record.value.text)
        if (!("doc" in opened) || !isCheckpointRecord(opened.doc) || opened.doc.step !== step) {
          const problem = "doc" in opened ? "not a checkpoint manifest of this step" : opened.problem
          yield* remote.quarantineRecord("checkpoints", checkpointId(key, step), problem)
          return Option.some(`its manifest in ${remote.location}: ${problem}; moved to its quarantine/`)
        }
        const dir = yield* local.makeTmpDir
        for (const file of opened.doc.files) {
          const ref = { digest: file.digest as Digests.Digest, size: file.size }
          const fetched = yield* throughCache(ref, local.verifyObject(ref)).pipe(
            Effect.as(Option.none<string>()),
            Effect.catchTags({
              CorruptObject: (error) => Effect.succeed(Option.some(`${file.path}: ${error.message}`)),
              MissingObject: (error) => Effect.succeed(Option.some(`${file.path}: ${error.message}`))
            })
          )
          if (Option.isSome(fetched)) return fetched
          const target = join(dir, ...file.path.split("/"))
          yield* Effect.tryPromise({
            try: async () => {
              mkdirSync(dirname(target), { recursive: true })
              await copyFile(local.objectPath(ref.digest), target)
            },
            catch: (cause) => checkpointError(key, cause)
          })
        }
        yield* local.saveCheckpoint(key, step, dir)
        return Option.none<string>()
      })
    )

  const latestCheckpoint = (key: string) =>
    Effect.gen(function* () {
      const cached = yield* local.latestCheckpoint(key)
      const cachedStep = Option.match(cached.checkpoint, { onNone: () => -1, onSome: (checkpoint) => checkpoint.step })
      const discarded = [...cached.discarded]
      for (const step of yield* sharedSteps(key)) {
        if (step <= cachedStep) break
        const problem = yield* fetchCheckpoint(key, step)
        if (Option.isSome(problem)) {
          discarded.push({ step, message: `checkpoint of step ${step}: ${problem.value}` })
          continue
        }
        const fetched = yield* local.latestCheckpoint(key)
        return { checkpoint: fetched.checkpoint, discarded: [...discarded, ...fetched.discarded] } satisfies LatestCheckpoint
      }
      return { checkpoint: cached.checkpoint, discarded } satisfies LatestCheckpoint
    })

  const clearCheckpoints = (key: string) =>
    Effect.gen(function* () {
      yield* local.clearCheckpoints(key)
      for (const step of yield* sharedSteps(key)) yield* remote.deleteRecord("checkpoints", checkpointId(key, step))
    })

  return {
    ...local,
    saveCheckpoint,
    latestCheckpoint,
    clearCheckpoints,
    putFile: (file, options) => local.putFile(file, options).pipe(Effect.flatMap(upload)),
    putBytes: (bytes) => local.putBytes(bytes).pipe(Effect.flatMap(upload)),
    readBytes: (ref) => throughCache(ref, local.readBytes(ref)),
    verifyObject: (ref) => throughCache(ref, local.verifyObject(ref)),
    checkObject: (ref) => throughCache(ref, local.checkObject(ref)),
    hasObject: (ref) => local.hasObject(ref).pipe(Effect.flatMap((has) => (has ? Effect.succeed(true) : remote.hasObject(ref)))),
    getDocument,
    putDocument,
    withLock: (name, effect) => local.withLock(name, withLease(remote, name, effect)),
    deleteDocument: (kind, id) => local.deleteDocument(kind, id).pipe(Effect.andThen(remote.deleteRecord(kind, id))),
    quarantineDocument: (kind, id, reason) => local.quarantineDocument(kind, id, reason).pipe(Effect.andThen(remote.quarantineRecord(kind, id, reason))),
    listDocuments: (kind) =>
      Effect.all([local.listDocuments(kind), remote.listRecords(kind)]).pipe(
        Effect.map(([cached, shared]) => {
          const newest = new Map<string, number>()
          for (const entry of [...cached, ...shared]) newest.set(entry.id, Math.max(newest.get(entry.id) ?? 0, entry.mtimeMs))
          return [...newest].map(([id, mtimeMs]) => ({ id, mtimeMs }))
        })
      )
  }
}

/** The store `localLayer` makes, as a read-through cache of the shared store. */
export const layerCached = <E, R>(localLayer: Layer.Layer<Store, E, R>): Layer.Layer<Store, E, R | Remote> =>
  Layer.effect(Store, Effect.all([Store, Remote]).pipe(Effect.map(([local, remote]) => Store.of(make(local, remote))))).pipe(
    Layer.provide(localLayer)
  )
