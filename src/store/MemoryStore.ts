/**
 * A store whose state lives in memory, for tests of code that uses the Store service.
 *
 * The interface hands out paths in three places (objectPath, makeTmpDir, latestCheckpoint), so the
 * layer owns a private temporary directory, removed when the layer is released: temporary
 * directories are real, and objects and checkpoints are written there only when a path to them is
 * asked for. Locks exclude fibers of this process only.
 */
import { existsSync, mkdirSync, writeFileSync } from "node:fs"
import { Effect, FileSystem, Layer, Option, Path, Semaphore } from "effect"
import type { PlatformError } from "effect/PlatformError"
import type { Digest } from "./Digest.ts"
import * as Digests from "./Digest.ts"
import { CorruptObject, type DocumentKind, type ObjectRef, Store, StoreError, type StoreShape } from "./Store.ts"
import { documentText, validateId, validateKind, validateRef, validateStep } from "./StoreId.ts"

interface Checkpoint {
  readonly step: number
  readonly files: ReadonlyMap<string, Uint8Array>
}

const platformError = (method: string, key: string) => (error: PlatformError) =>
  new StoreError({ method, key, message: error.message, cause: error })

const make = Effect.gen(function* () {
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  const root = yield* fs.makeTempDirectoryScoped({ prefix: "memory-store-" }).pipe(Effect.orDie)
  const objects = new Map<Digest, Uint8Array>()
  const documents = { stages: new Map<string, { text: string; mtimeMs: number }>(), runs: new Map<string, { text: string; mtimeMs: number }>() }
  const checkpoints = new Map<string, Checkpoint>()
  const locks = new Map<string, Semaphore.Semaphore>()
  let tmpCounter = 0

  const add = (bytes: Uint8Array): ObjectRef => {
    const digest = Digests.ofBytes(bytes)
    if (!objects.has(digest)) objects.set(digest, Uint8Array.from(bytes))
    return { digest, size: bytes.length }
  }

  const objectPath = (digest: Digest): string => {
    if (!Digests.isDigest(digest)) throw new TypeError(`objectPath: ${JSON.stringify(digest)} is not a sha256 digest`)
    const file = path.join(root, "objects", "sha256", digest.slice(0, 2), digest)
    const bytes = objects.get(digest)
    if (bytes !== undefined && !existsSync(file)) {
      mkdirSync(path.dirname(file), { recursive: true })
      writeFileSync(file, bytes, { mode: 0o444, flag: "wx" })
    }
    return file
  }

  const missing = (method: string, digest: string) => new StoreError({ method, key: digest, message: `object ${digest} is missing` })

  const verifyBytes = (ref: ObjectRef, bytes: Uint8Array): Effect.Effect<void, CorruptObject> =>
    bytes.length !== ref.size
      ? Effect.fail(new CorruptObject({ digest: ref.digest, message: `size ${bytes.length}, expected ${ref.size}` }))
      : Digests.ofBytes(bytes) !== ref.digest
        ? Effect.fail(new CorruptObject({ digest: ref.digest, message: `content hashes to ${Digests.ofBytes(bytes)}` }))
        : Effect.void

  const lookup = (method: string, ref: ObjectRef) =>
    validateRef(method, ref).pipe(
      Effect.flatMap(() => {
        const bytes = objects.get(ref.digest)
        return bytes === undefined ? Effect.fail(missing(method, ref.digest)) : Effect.succeed(bytes)
      })
    )

  const putFile = (source: string, options?: { readonly move?: boolean }) =>
    Effect.gen(function* () {
      const info = yield* fs.stat(source)
      if (info.type !== "File") return yield* new StoreError({ method: "putFile", key: source, message: `${source} is not a regular file` })
      const ref = add(yield* fs.readFile(source))
      if (options?.move === true) yield* fs.remove(source)
      return ref
    }).pipe(Effect.mapError((error) => (error._tag === "PlatformError" ? platformError("putFile", source)(error) : error)))

  const readBytes = (ref: ObjectRef) =>
    lookup("readBytes", ref).pipe(
      Effect.tap((bytes) => verifyBytes(ref, bytes)),
      Effect.map((bytes) => Uint8Array.from(bytes))
    )

  const makeTmpDir = Effect.acquireRelease(
    Effect.suspend(() => {
      const dir = path.join(root, "tmp", `dir-${++tmpCounter}`)
      return fs.makeDirectory(dir, { recursive: true }).pipe(Effect.as(dir))
    }),
    (dir) => fs.remove(dir, { recursive: true, force: true }).pipe(Effect.ignore)
  ).pipe(Effect.mapError(platformError("makeTmpDir", root)))

  const document = (method: string, kind: DocumentKind, id: string) =>
    validateKind(method, kind).pipe(
      Effect.andThen(validateId(method, id)),
      Effect.as(documents[kind])
    )

  const putDocument = (kind: DocumentKind, id: string, doc: unknown) =>
    document("putDocument", kind, id).pipe(
      Effect.flatMap((docs) =>
        documentText(kind, id, doc).pipe(Effect.map((text) => void docs.set(id, { text, mtimeMs: Date.now() })))
      )
    )

  const saveCheckpoint = (key: string, step: number, dir: string) =>
    Effect.gen(function* () {
      yield* validateId("saveCheckpoint", key)
      yield* validateStep(step)
      const info = yield* fs.stat(dir)
      if (info.type !== "Directory") return yield* new StoreError({ method: "saveCheckpoint", key, message: `${dir} is not a directory` })
      const files = new Map<string, Uint8Array>()
      for (const relative of yield* fs.readDirectory(dir, { recursive: true })) {
        const file = path.join(dir, relative)
        if ((yield* fs.stat(file)).type === "File") files.set(relative, yield* fs.readFile(file))
      }
      checkpoints.set(key, { step, files })
      yield* fs.remove(path.join(root, "checkpoints", key), { recursive: true, force: true })
    }).pipe(Effect.mapError((error) => (error._tag === "PlatformError" ? platformError("saveCheckpoint", key)(error) : error)))

  const latestCheckpoint = (key: string) =>
    Effect.gen(function* () {
      yield* validateId("latestCheckpoint", key)
      const checkpoint = checkpoints.get(key)
      if (checkpoint === undefined) return Option.none()
      const dir = path.join(root, "checkpoints", key, String(checkpoint.step))
      if (!(yield* fs.exists(dir))) {
        for (const [relative, bytes] of checkpoint.files) {
          yield* fs.makeDirectory(path.dirname(path.join(dir, relative)), { recursive: true })
          yield* fs.writeFile(path.join(dir, relative), bytes)
        }
        yield* fs.makeDirectory(dir, { recursive: true })
      }
      return Option.some({ step: checkpoint.step, dir })
    }).pipe(Effect.mapError((error) => (error._tag === "PlatformError" ? platformError("latestCheckpoint", key)(error) : error)))

  const clearCheckpoints = (key: string) =>
    validateId("clearCheckpoints", key).pipe(
      Effect.andThen(
        Effect.suspend(() => {
          checkpoints.delete(key)
          return fs.remove(path.join(root, "checkpoints", key), { recursive: true, force: true }).pipe(Effect.mapError(platformError("clearCheckpoints", key)))
        })
      )
    )

  const lockFor = (name: string) => {
    const existing = locks.get(name)
    if (existing !== undefined) return existing
    const created = Semaphore.makeUnsafe(1)
    locks.set(name, created)
    return created
  }

  const verifyAll = Effect.sync(() => {
    const corrupt: Array<Digest> = []
    let bytes = 0
    for (const [digest, content] of objects) {
      bytes += content.length
      if (Digests.ofBytes(content) !== digest) corrupt.push(digest)
    }
    const checked = objects.size
    for (const digest of corrupt) objects.delete(digest)
    return { checked, bytes, corrupt }
  })

  const sweep = (live: ReadonlySet<Digest>, liveKeys: ReadonlySet<string>, options: { readonly dryRun: boolean }) =>
    Effect.sync(() => {
      let count = 0
      let bytes = 0
      for (const [digest, content] of objects) {
        if (live.has(digest)) continue
        count += 1
        bytes += content.length
        if (!options.dryRun) objects.delete(digest)
      }
      for (const [key, checkpoint] of checkpoints) {
        if (liveKeys.has(key)) continue
        for (const content of checkpoint.files.values()) bytes += content.length
        if (!options.dryRun) checkpoints.delete(key)
      }
      return { objects: count, bytes }
    })

  return Store.of({
    root,
    putFile,
    putBytes: (bytes) => Effect.sync(() => add(bytes)),
    objectPath,
    readBytes,
    verifyObject: (ref) => lookup("verifyObject", ref).pipe(Effect.flatMap((bytes) => verifyBytes(ref, bytes))),
    hasObject: (ref) => validateRef("hasObject", ref).pipe(Effect.map(() => objects.get(ref.digest)?.length === ref.size)),
    makeTmpDir,
    getDocument: (kind, id) =>
      document("getDocument", kind, id).pipe(
        Effect.map((docs) => Option.map(Option.fromUndefinedOr(docs.get(id)), (entry) => JSON.parse(entry.text) as unknown))
      ),
    putDocument,
    deleteDocument: (kind, id) => document("deleteDocument", kind, id).pipe(Effect.map((docs) => void docs.delete(id))),
    listDocuments: (kind) =>
      validateKind("listDocuments", kind).pipe(
        Effect.map(() => [...documents[kind]].map(([id, entry]) => ({ id, mtimeMs: entry.mtimeMs })))
      ),
    withLock: (name, effect) => validateId("withLock", name).pipe(Effect.andThen(lockFor(name).withPermits(1)(effect))),
    saveCheckpoint,
    latestCheckpoint,
    clearCheckpoints,
    verifyAll,
    sweep
  } satisfies StoreShape)
})

/** A fresh in-memory store per use of the layer (its private directory is removed on release). */
export const layerMemory: Layer.Layer<Store, never, FileSystem.FileSystem | Path.Path> = Layer.effect(Store, make)
