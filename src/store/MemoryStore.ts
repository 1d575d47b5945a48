/**
 * A store whose state lives in memory, for tests of code that uses the Store service.
 *
 * The interface hands out paths in three places (objectPath, makeTmpDir, latestCheckpoint), so the
 * layer owns a private temporary directory, removed when the layer is released: temporary
 * directories are real, and objects and checkpoints are written there only when a path to them is
 * asked for. Locks exclude fibers of this process only; documents are sealed as on disk, and pins
 * are kept in memory, so gc follows the same rules.
 */
import { existsSync, mkdirSync, writeFileSync } from "node:fs"
import { Effect, FileSystem, Layer, Option, Path, Semaphore } from "effect"
import type { PlatformError } from "effect/PlatformError"
import type { Digest } from "./Digest.ts"
import * as Digests from "./Digest.ts"
import { unseal } from "./DocumentSeal.ts"
import {
  CorruptDocument,
  CorruptObject,
  type Damage,
  type DocumentKind,
  keptCheckpoints,
  MissingObject,
  type ObjectRef,
  type Roots,
  Store,
  StoreError,
  type StoreShape
} from "./Store.ts"
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
  const checkpoints = new Map<string, ReadonlyArray<Checkpoint>>()
  const locks = new Map<string, Semaphore.Semaphore>()
  const pins = { objects: new Set<Digest>(), keys: new Set<string>() }
  let pinScopes = 0
  let tmpCounter = 0

  const pinObject = (digest: Digest) => (pinScopes > 0 ? void pins.objects.add(digest) : undefined)
  const pinKey = (key: string) => (pinScopes > 0 ? void pins.keys.add(key) : undefined)

  const add = (bytes: Uint8Array): ObjectRef => {
    const digest = Digests.ofBytes(bytes)
    pinObject(digest)
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

  const missing = (digest: string) => new MissingObject({ digest, message: `object ${digest.slice(0, 12)}… is not in the store` })

  const verifyBytes = (ref: ObjectRef, bytes: Uint8Array): Effect.Effect<void, CorruptObject> => {
    const problem = bytes.length !== ref.size
      ? `size ${bytes.length}, expected ${ref.size}`
      : Digests.ofBytes(bytes) !== ref.digest
      ? `content hashes to ${Digests.ofBytes(bytes).slice(0, 12)}…`
      : undefined
    if (problem === undefined) return Effect.void
    objects.delete(ref.digest)
    return Effect.fail(new CorruptObject({ digest: ref.digest, message: `object ${ref.digest.slice(0, 12)}…: ${problem}; moved to quarantine/` }))
  }

  const lookup = (method: string, ref: ObjectRef) =>
    validateRef(method, ref).pipe(
      Effect.flatMap(() => {
        pinObject(ref.digest)
        const bytes = objects.get(ref.digest)
        return bytes === undefined ? Effect.fail(missing(ref.digest)) : Effect.succeed(bytes)
      })
    )

  const verifyObject = (ref: ObjectRef) => lookup("verifyObject", ref).pipe(Effect.flatMap((bytes) => verifyBytes(ref, bytes)))

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
      Effect.map(() => {
        if (kind === "stages") pinKey(id)
        return documents[kind]
      })
    )

  const putDocument = (kind: DocumentKind, id: string, doc: unknown) =>
    document("putDocument", kind, id).pipe(
      Effect.flatMap((docs) =>
        documentText(kind, id, doc).pipe(Effect.map((text) => void docs.set(id, { text, mtimeMs: Date.now() })))
      )
    )

  const getDocument = (kind: DocumentKind, id: string) =>
    document("getDocument", kind, id).pipe(
      Effect.flatMap((docs) => {
        const entry = docs.get(id)
        if (entry === undefined) return Effect.succeed(Option.none())
        const opened = unseal(entry.text)
        if ("doc" in opened) return Effect.succeed(Option.some(opened.doc))
        docs.delete(id)
        return Effect.fail(new CorruptDocument({ kind, id, message: `${kind}/${id}.json: ${opened.problem}; moved to quarantine/`, problem: opened.problem }))
      })
    )

  const checkDocuments = (kind: DocumentKind) =>
    validateKind("checkDocuments", kind).pipe(
      Effect.map(() => {
        const damaged: Array<Damage> = []
        for (const [id, entry] of documents[kind]) {
          const opened = unseal(entry.text)
          if ("doc" in opened) continue
          documents[kind].delete(id)
          damaged.push({ kind, id, message: `${opened.problem}; moved to quarantine/` })
        }
        return damaged
      })
    )

  const saveCheckpoint = (key: string, step: number, dir: string) =>
    Effect.gen(function* () {
      yield* validateId("saveCheckpoint", key)
      yield* validateStep(step)
      pinKey(key)
      const info = yield* fs.stat(dir)
      if (info.type !== "Directory") return yield* new StoreError({ method: "saveCheckpoint", key, message: `${dir} is not a directory` })
      const files = new Map<string, Uint8Array>()
      for (const relative of yield* fs.readDirectory(dir, { recursive: true })) {
        const file = path.join(dir, relative)
        if ((yield* fs.stat(file)).type === "File") files.set(relative, yield* fs.readFile(file))
      }
      const others = (checkpoints.get(key) ?? []).filter((checkpoint) => checkpoint.step !== step)
      const kept = [{ step, files }, ...others].sort((a, b) => b.step - a.step).slice(0, keptCheckpoints)
      checkpoints.set(key, kept)
      yield* fs.remove(path.join(root, "checkpoints", key), { recursive: true, force: true })
    }).pipe(Effect.mapError((error) => (error._tag === "PlatformError" ? platformError("saveCheckpoint", key)(error) : error)))

  const latestCheckpoint = (key: string) =>
    Effect.gen(function* () {
      yield* validateId("latestCheckpoint", key)
      pinKey(key)
      const checkpoint = checkpoints.get(key)?.[0]
      if (checkpoint === undefined) return { checkpoint: Option.none(), discarded: [] }
      const dir = path.join(root, "checkpoints", key, String(checkpoint.step), "files")
      if (!(yield* fs.exists(dir))) {
        for (const [relative, bytes] of checkpoint.files) {
          yield* fs.makeDirectory(path.dirname(path.join(dir, relative)), { recursive: true })
          yield* fs.writeFile(path.join(dir, relative), bytes)
        }
        yield* fs.makeDirectory(dir, { recursive: true })
      }
      return { checkpoint: Option.some({ step: checkpoint.step, dir }), discarded: [] }
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

  const verifyAll = Effect.gen(function* () {
    const damaged: Array<Damage> = []
    let bytes = 0
    const checked = objects.size
    for (const [digest, content] of [...objects]) {
      bytes += content.length
      if (Digests.ofBytes(content) === digest) continue
      objects.delete(digest)
      damaged.push({ kind: "object", id: digest, message: `content hashes to ${Digests.ofBytes(content).slice(0, 12)}…; moved to quarantine/` })
    }
    const documentCount = documents.stages.size + documents.runs.size
    damaged.push(...(yield* checkDocuments("stages")), ...(yield* checkDocuments("runs")))
    const checkpointCount = [...checkpoints.values()].reduce((n, list) => n + list.length, 0)
    return { objects: checked, bytes, documents: documentCount, checkpoints: checkpointCount, damaged }
  })

  const collect = <E, R>(plan: (pinned: Roots) => Effect.Effect<Roots, E, R>, options: { readonly dryRun: boolean }) =>
    lockFor("gc").withPermits(1)(
      Effect.gen(function* () {
        const pinned: Roots = { objects: new Set(pins.objects), keys: new Set(pins.keys) }
        const kept = yield* plan(pinned)
        let count = 0
        let bytes = 0
        for (const [digest, content] of [...objects]) {
          if (kept.objects.has(digest) || pinned.objects.has(digest)) continue
          count += 1
          bytes += content.length
          if (!options.dryRun) objects.delete(digest)
        }
        for (const [key, list] of [...checkpoints]) {
          if (kept.keys.has(key) || pinned.keys.has(key)) continue
          for (const checkpoint of list) for (const content of checkpoint.files.values()) bytes += content.length
          if (!options.dryRun) checkpoints.delete(key)
        }
        return { objects: count, bytes }
      })
    )

  const pinning = Effect.acquireRelease(
    Effect.sync(() => void (pinScopes += 1)),
    () =>
      Effect.sync(() => {
        pinScopes -= 1
        if (pinScopes > 0) return
        pins.objects.clear()
        pins.keys.clear()
      })
  )

  return Store.of({
    root,
    putFile,
    putBytes: (bytes) => Effect.sync(() => add(bytes)),
    objectPath,
    readBytes,
    verifyObject,
    checkObject: verifyObject,
    hasObject: (ref) =>
      validateRef("hasObject", ref).pipe(
        Effect.map(() => {
          pinObject(ref.digest)
          return objects.get(ref.digest)?.length === ref.size
        })
      ),
    makeTmpDir,
    getDocument,
    putDocument,
    deleteDocument: (kind, id) => document("deleteDocument", kind, id).pipe(Effect.map((docs) => void docs.delete(id))),
    quarantineDocument: (kind, id) => document("quarantineDocument", kind, id).pipe(Effect.map((docs) => void docs.delete(id))),
    listDocuments: (kind) =>
      validateKind("listDocuments", kind).pipe(
        Effect.map(() => [...documents[kind]].map(([id, entry]) => ({ id, mtimeMs: entry.mtimeMs })))
      ),
    checkDocuments,
    withLock: (name, effect) => validateId("withLock", name).pipe(Effect.andThen(lockFor(name).withPermits(1)(effect))),
    pinning,
    saveCheckpoint,
    latestCheckpoint,
    clearCheckpoints,
    verifyAll,
    collect
  } satisfies StoreShape)
})

/** A fresh in-memory store per use of the layer (its private directory is removed on release). */
export const layerMemory: Layer.Layer<Store, never, FileSystem.FileSystem | Path.Path> = Layer.effect(Store, make)
