/**
 * The store on a local filesystem (see Store.ts for the layout).
 *
 * Crash safety: every file or directory becomes visible by a rename from tmp/ after its bytes were
 * fsynced, and the parent directory is fsynced after the rename, so a killed process leaves at most
 * an unreferenced entry in tmp/ (removed by `sweep` once its owner is dead), never a partial object,
 * document or checkpoint. Removals of directories rename them into tmp/ first for the same reason.
 *
 * Built on Effect's FileSystem and Path; only the streaming hash/copy (HashFile.ts) uses node:fs.
 */
import { Effect, FileSystem, Layer, Option, Path } from "effect"
import type { Scope } from "effect"
import type { PlatformError } from "effect/PlatformError"
import { isPlatformError } from "effect/PlatformError"
import type { Digest } from "./Digest.ts"
import * as Digests from "./Digest.ts"
import * as FileLock from "./FileLock.ts"
import * as HashFile from "./HashFile.ts"
import * as Owners from "./Owner.ts"
import { CorruptObject, type DocumentKind, type ObjectRef, Store, StoreError, type StoreShape } from "./Store.ts"
import { documentText, isValidId, validateId, validateKind, validateRef, validateStep } from "./StoreId.ts"

/** Objects are read-only so a stage cannot modify an input it was given by path. */
const objectMode = 0o444
const documentMode = 0o644
/** tmp/ entries that name no owner on this host are removed after a day. */
const foreignTmpAgeMs = 24 * 60 * 60 * 1000

const isReason = (tag: string) => (error: unknown): error is PlatformError =>
  isPlatformError(error) && error.reason._tag === tag
const isNotFound = isReason("NotFound")

/** Translates filesystem errors once, at the boundary of each store method. */
const storeErrors =
  (method: string, key: string) =>
  <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, Exclude<E, PlatformError> | StoreError, R> =>
    Effect.mapError(effect, (error) =>
      isPlatformError(error) ? new StoreError({ method, key, message: error.message, cause: error }) : error
    ) as Effect.Effect<A, Exclude<E, PlatformError> | StoreError, R>

const corrupt = (digest: string, message: string) => new CorruptObject({ digest, message })

const make = (rootDir: string) =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const root = path.resolve(rootDir)
    const dirs = {
      objects: path.join(root, "objects", "sha256"),
      checkpoints: path.join(root, "checkpoints"),
      tmp: path.join(root, "tmp"),
      locks: path.join(root, "locks"),
      quarantine: path.join(root, "quarantine")
    }
    const withFileLock = yield* FileLock.make(dirs.locks, dirs.tmp)

    const ensureDir = (dir: string) => fs.makeDirectory(dir, { recursive: true })
    // The name is drawn when the Effect runs, so a reused Effect (makeTmpDir) gets a fresh one each time.
    const tmpPath = (purpose: string) => ensureDir(dirs.tmp).pipe(Effect.map(() => path.join(dirs.tmp, Owners.tmpName(purpose))))
    /** fsyncs a file, or a directory (which makes the renames and removals inside it durable). */
    const syncPath = (target: string) => Effect.scoped(Effect.flatMap(fs.open(target, { flag: "r" }), (file) => file.sync))
    const size = (info: FileSystem.File.Info) => Number(info.size)
    const statOption = (file: string) =>
      fs.stat(file).pipe(Effect.map(Option.some), Effect.catchIf(isNotFound, () => Effect.succeed(Option.none())))
    const listDir = (dir: string) => fs.readDirectory(dir).pipe(Effect.catchIf(isNotFound, () => Effect.succeed([] as Array<string>)))

    /** Renames a finished tmp entry into place and makes the rename durable. */
    const commit = (from: string, to: string) =>
      Effect.gen(function* () {
        yield* ensureDir(path.dirname(to))
        yield* fs.rename(from, to)
        yield* syncPath(path.dirname(to))
      })

    /** Removes a file or directory tree so that no partial tree is ever visible at `target`. */
    const removeTree = (target: string) =>
      Effect.gen(function* () {
        const aside = yield* tmpPath("trash")
        const moved = yield* fs.rename(target, aside).pipe(Effect.as(true), Effect.catchIf(isNotFound, () => Effect.succeed(false)))
        if (moved) yield* fs.remove(aside, { recursive: true, force: true })
      })

    const writeAtomic = (target: string, bytes: Uint8Array, mode: number) =>
      Effect.gen(function* () {
        const staged = yield* tmpPath("file")
        yield* Effect.scoped(
          Effect.gen(function* () {
            const file = yield* fs.open(staged, { flag: "wx", mode })
            yield* file.writeAll(bytes)
            yield* file.sync
          })
        ).pipe(
          Effect.andThen(commit(staged, target)),
          Effect.onError(() => fs.remove(staged, { force: true }).pipe(Effect.ignore))
        )
      })

    const treeSize = (target: string): Effect.Effect<number, PlatformError> =>
      Effect.gen(function* () {
        const info = yield* fs.lstat(target)
        if (info.type !== "Directory") return size(info)
        const entries = yield* fs.readDirectory(target)
        const sizes = yield* Effect.forEach(entries, (entry) => treeSize(path.join(target, entry)))
        return sizes.reduce((a, b) => a + b, 0)
      })

    const objectPath = (digest: Digest): string => {
      if (!Digests.isDigest(digest)) throw new TypeError(`objectPath: ${JSON.stringify(digest)} is not a sha256 digest`)
      return path.join(dirs.objects, digest.slice(0, 2), digest)
    }

    const hasObject = (ref: ObjectRef) =>
      Effect.gen(function* () {
        yield* validateRef("hasObject", ref)
        const info = yield* statOption(objectPath(ref.digest))
        return Option.isSome(info) && info.value.type === "File" && size(info.value) === ref.size
      }).pipe(storeErrors("hasObject", ref.digest))

    // On interruption the hash is aborted and awaited, so its own cleanup (removing a partial copy)
    // is finished before the interrupted fiber is.
    const hashPromise = <A>(method: string, key: string, run: (signal: AbortSignal) => Promise<A>) =>
      Effect.callback<A, StoreError>((resume) => {
        const controller = new AbortController()
        const running = run(controller.signal)
        running.then(
          (value) => resume(Effect.succeed(value)),
          (cause) => resume(Effect.fail(new StoreError({ method, key, message: `${key}: ${(cause as Error).message}`, cause })))
        )
        return Effect.uninterruptible(
          Effect.promise(() => {
            controller.abort()
            return running.then(
              () => undefined,
              () => undefined
            )
          })
        )
      })

    const putBytes = (bytes: Uint8Array) =>
      Effect.gen(function* () {
        const ref: ObjectRef = { digest: Digests.ofBytes(bytes), size: bytes.length }
        if (!(yield* hasObject(ref))) yield* writeAtomic(objectPath(ref.digest), bytes, objectMode)
        return ref
      }).pipe(storeErrors("putBytes", "<bytes>"))

    const copyIn = (source: string) =>
      Effect.gen(function* () {
        const staged = yield* tmpPath("object")
        const ref = yield* hashPromise("putFile", source, (signal) => HashFile.hashCopy(source, staged, objectMode, signal))
        // After a commit the staged file is gone and the removal is a no-op; otherwise it drops a
        // duplicate copy, or the copy left by a failed commit.
        yield* hasObject(ref).pipe(
          Effect.flatMap((exists) => (exists ? Effect.void : commit(staged, objectPath(ref.digest)))),
          Effect.ensuring(fs.remove(staged, { force: true }).pipe(Effect.ignore))
        )
        return ref
      })

    // Renaming is only possible within one filesystem; across filesystems `move` degrades to copy + delete.
    const moveIn = (source: string) =>
      Effect.gen(function* () {
        const ref = yield* hashPromise("putFile", source, (signal) => HashFile.hashFile(source, signal))
        // Moving an object onto itself must not end by deleting it as a duplicate.
        if (path.resolve(source) === objectPath(ref.digest)) return ref
        if (!(yield* hasObject(ref))) {
          yield* syncPath(source)
          yield* fs.chmod(source, objectMode)
          const moved = yield* commit(source, objectPath(ref.digest)).pipe(
            Effect.as(true),
            Effect.catchIf(
              (error) => isPlatformError(error) && (error.reason.cause as NodeJS.ErrnoException | undefined)?.code === "EXDEV",
              () => Effect.succeed(false)
            )
          )
          if (moved) return ref
          const copied = yield* copyIn(source)
          if (copied.digest !== ref.digest) {
            return yield* new StoreError({ method: "putFile", key: source, message: `${source} changed while it was being stored` })
          }
        }
        yield* fs.remove(source, { force: true })
        return ref
      })

    const putFile = (source: string, options?: { readonly move?: boolean }) =>
      Effect.gen(function* () {
        const info = yield* fs.stat(source)
        if (info.type !== "File") {
          return yield* new StoreError({ method: "putFile", key: source, message: `${source} is not a regular file` })
        }
        return yield* options?.move === true ? moveIn(source) : copyIn(source)
      }).pipe(storeErrors("putFile", source))

    const readBytes = (ref: ObjectRef) =>
      Effect.gen(function* () {
        yield* validateRef("readBytes", ref)
        const file = objectPath(ref.digest)
        const bytes = yield* fs.readFile(file).pipe(
          Effect.catchIf(isNotFound, () =>
            Effect.fail(new StoreError({ method: "readBytes", key: ref.digest, message: `object ${ref.digest} is missing (${file})` }))
          )
        )
        if (bytes.length !== ref.size) return yield* corrupt(ref.digest, `${file}: size ${bytes.length}, expected ${ref.size}`)
        const actual = Digests.ofBytes(bytes)
        if (actual !== ref.digest) return yield* corrupt(ref.digest, `${file}: content hashes to ${actual}`)
        return bytes
      }).pipe(storeErrors("readBytes", ref.digest))

    const verifyFile = (file: string, ref: ObjectRef) =>
      Effect.gen(function* () {
        const hashed = yield* hashPromise("verifyObject", file, (signal) => HashFile.hashFile(file, signal))
        if (hashed.size !== ref.size) return yield* corrupt(ref.digest, `${file}: size ${hashed.size}, expected ${ref.size}`)
        if (hashed.digest !== ref.digest) return yield* corrupt(ref.digest, `${file}: content hashes to ${hashed.digest}`)
      })

    const verifyObject = (ref: ObjectRef) =>
      Effect.gen(function* () {
        yield* validateRef("verifyObject", ref)
        const file = objectPath(ref.digest)
        const info = yield* statOption(file)
        if (Option.isNone(info)) {
          return yield* new StoreError({ method: "verifyObject", key: ref.digest, message: `object ${ref.digest} is missing (${file})` })
        }
        if (size(info.value) !== ref.size) return yield* corrupt(ref.digest, `${file}: size ${size(info.value)}, expected ${ref.size}`)
        yield* verifyFile(file, ref)
      }).pipe(storeErrors("verifyObject", ref.digest))

    const makeTmpDir: Effect.Effect<string, StoreError, Scope.Scope> = Effect.acquireRelease(
      tmpPath("dir").pipe(Effect.tap((dir) => fs.makeDirectory(dir))),
      (dir) => fs.remove(dir, { recursive: true, force: true }).pipe(Effect.ignore)
    ).pipe(storeErrors("makeTmpDir", dirs.tmp))

    const documentPath = (method: string, kind: DocumentKind, id: string) =>
      Effect.gen(function* () {
        yield* validateKind(method, kind)
        yield* validateId(method, id)
        return path.join(root, kind, `${id}.json`)
      })

    const getDocument = (kind: DocumentKind, id: string) =>
      Effect.gen(function* () {
        const file = yield* documentPath("getDocument", kind, id)
        const text = yield* fs.readFileString(file).pipe(Effect.map(Option.some), Effect.catchIf(isNotFound, () => Effect.succeed(Option.none())))
        if (Option.isNone(text)) return Option.none()
        return yield* Effect.try({
          try: () => Option.some(JSON.parse(text.value) as unknown),
          catch: (cause) => new StoreError({ method: "getDocument", key: id, message: `${file}: invalid JSON: ${(cause as Error).message}`, cause })
        })
      }).pipe(storeErrors("getDocument", id))

    const putDocument = (kind: DocumentKind, id: string, doc: unknown) =>
      Effect.gen(function* () {
        const file = yield* documentPath("putDocument", kind, id)
        const text = yield* documentText(kind, id, doc)
        yield* writeAtomic(file, new TextEncoder().encode(`${text}\n`), documentMode)
      }).pipe(storeErrors("putDocument", id))

    const deleteDocument = (kind: DocumentKind, id: string) =>
      Effect.gen(function* () {
        const file = yield* documentPath("deleteDocument", kind, id)
        const existed = yield* fs.remove(file).pipe(Effect.as(true), Effect.catchIf(isNotFound, () => Effect.succeed(false)))
        if (existed) yield* syncPath(path.dirname(file))
      }).pipe(storeErrors("deleteDocument", id))

    const listDocuments = (kind: DocumentKind) =>
      Effect.gen(function* () {
        yield* validateKind("listDocuments", kind)
        const dir = path.join(root, kind)
        const names = (yield* listDir(dir)).filter((name) => name.endsWith(".json") && isValidId(name.slice(0, -".json".length)))
        const entries = yield* Effect.forEach(names, (name) =>
          statOption(path.join(dir, name)).pipe(
            Effect.map((info) =>
              Option.flatMap(info, (i) => Option.map(i.mtime, (mtime) => ({ id: name.slice(0, -".json".length), mtimeMs: mtime.getTime() })))
            )
          )
        )
        return entries.flatMap((entry) => (Option.isSome(entry) ? [entry.value] : []))
      }).pipe(storeErrors("listDocuments", kind))

    const withLock = <A, E, R>(name: string, effect: Effect.Effect<A, E, R>): Effect.Effect<A, E | StoreError, R> =>
      validateId("withLock", name).pipe(
        Effect.andThen(Effect.all([ensureDir(dirs.locks), ensureDir(dirs.tmp)]).pipe(storeErrors("withLock", name))),
        Effect.andThen(withFileLock(name, effect))
      )

    // fsyncs every file and directory of a staged tree before it is renamed into place.
    const syncTree = (dir: string): Effect.Effect<void, PlatformError> =>
      Effect.gen(function* () {
        for (const entry of yield* fs.readDirectory(dir)) {
          const child = path.join(dir, entry)
          const info = yield* fs.stat(child)
          if (info.type === "Directory") yield* syncTree(child)
          else yield* syncPath(child)
        }
        yield* syncPath(dir)
      })

    const checkpointSteps = (keyDir: string) =>
      listDir(keyDir).pipe(Effect.map((names) => names.filter((name) => /^(0|[1-9]\d*)$/.test(name)).map(Number)))

    // A key keeps only its last saved checkpoint: `latestCheckpoint` is the only reader, and train
    // states are large. Older steps are removed after the new one is durable.
    const saveCheckpoint = (key: string, step: number, dir: string) =>
      Effect.gen(function* () {
        yield* validateId("saveCheckpoint", key)
        yield* validateStep(step)
        const info = yield* fs.stat(dir)
        if (info.type !== "Directory") {
          return yield* new StoreError({ method: "saveCheckpoint", key, message: `${dir} is not a directory` })
        }
        const keyDir = path.join(dirs.checkpoints, key)
        const staged = yield* tmpPath("checkpoint")
        yield* fs.copy(dir, staged)
        yield* syncTree(staged)
        const target = path.join(keyDir, String(step))
        yield* removeTree(target)
        yield* commit(staged, target)
        for (const old of yield* checkpointSteps(keyDir)) {
          if (old !== step) yield* removeTree(path.join(keyDir, String(old)))
        }
      }).pipe(storeErrors("saveCheckpoint", key))

    const latestCheckpoint = (key: string) =>
      Effect.gen(function* () {
        yield* validateId("latestCheckpoint", key)
        const keyDir = path.join(dirs.checkpoints, key)
        const steps = yield* checkpointSteps(keyDir)
        if (steps.length === 0) return Option.none()
        const step = Math.max(...steps)
        return Option.some({ step, dir: path.join(keyDir, String(step)) })
      }).pipe(storeErrors("latestCheckpoint", key))

    const clearCheckpoints = (key: string) =>
      validateId("clearCheckpoints", key).pipe(
        Effect.andThen(removeTree(path.join(dirs.checkpoints, key))),
        storeErrors("clearCheckpoints", key)
      )

    /** Every object file in the store, with its digest (files with other names are not objects). */
    const listObjects = Effect.gen(function* () {
      const found: Array<{ digest: Digest; file: string; size: number }> = []
      for (const shard of yield* listDir(dirs.objects)) {
        for (const name of yield* listDir(path.join(dirs.objects, shard))) {
          const file = path.join(dirs.objects, shard, name)
          const info = yield* statOption(file)
          if (Digests.isDigest(name) && Option.isSome(info) && info.value.type === "File") {
            found.push({ digest: name, file, size: size(info.value) })
          }
        }
      }
      return found
    })

    const verifyAll = Effect.gen(function* () {
      const corruptDigests: Array<Digest> = []
      let bytes = 0
      const objects = yield* listObjects
      for (const object of objects) {
        bytes += object.size
        const ok = yield* verifyFile(object.file, object).pipe(
          Effect.as(true),
          Effect.catchTag("CorruptObject", () => Effect.succeed(false))
        )
        if (!ok) {
          corruptDigests.push(object.digest)
          yield* ensureDir(dirs.quarantine)
          yield* fs.rename(object.file, path.join(dirs.quarantine, `${object.digest}.${Date.now()}`))
          yield* syncPath(path.dirname(object.file))
        }
      }
      return { checked: objects.length, bytes, corrupt: corruptDigests }
    }).pipe(storeErrors("verifyAll", root))

    const isStaleTmp = (name: string, mtime: Option.Option<Date>) => {
      const owner = Owners.parseTmpName(name)
      if (owner !== undefined && owner.host === Owners.self.host) return Owners.isDead(owner)
      return Option.match(mtime, { onNone: () => false, onSome: (date) => Date.now() - date.getTime() > foreignTmpAgeMs })
    }

    const sweep = (live: ReadonlySet<Digest>, liveKeys: ReadonlySet<string>, options: { readonly dryRun: boolean }) =>
      Effect.gen(function* () {
        let objects = 0
        let bytes = 0
        for (const object of yield* listObjects) {
          if (live.has(object.digest)) continue
          objects += 1
          bytes += object.size
          if (!options.dryRun) yield* fs.remove(object.file, { force: true })
        }
        for (const key of yield* listDir(dirs.checkpoints)) {
          if (liveKeys.has(key)) continue
          const keyDir = path.join(dirs.checkpoints, key)
          bytes += yield* treeSize(keyDir)
          if (!options.dryRun) yield* removeTree(keyDir)
        }
        for (const name of yield* listDir(dirs.tmp)) {
          const entry = path.join(dirs.tmp, name)
          const info = yield* statOption(entry)
          if (Option.isNone(info) || !isStaleTmp(name, info.value.mtime)) continue
          bytes += yield* treeSize(entry).pipe(Effect.catchIf(isNotFound, () => Effect.succeed(0)))
          if (!options.dryRun) yield* fs.remove(entry, { recursive: true, force: true })
        }
        return { objects, bytes }
      }).pipe(storeErrors("sweep", root))

    return Store.of({
      root,
      putFile,
      putBytes,
      objectPath,
      readBytes,
      verifyObject,
      hasObject,
      makeTmpDir,
      getDocument,
      putDocument,
      deleteDocument,
      listDocuments,
      withLock,
      saveCheckpoint,
      latestCheckpoint,
      clearCheckpoints,
      verifyAll,
      sweep
    } satisfies StoreShape)
  })

/** The store rooted at `root` (created on first write). */
export const layerDisk = (root: string): Layer.Layer<Store, never, FileSystem.FileSystem | Path.Path> =>
  Layer.effect(Store, make(root))
