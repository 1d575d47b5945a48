/**
 * The store on a local filesystem (see Store.ts for the layout).
 *
 * Crash safety: every file or directory becomes visible by a rename from tmp/ after its bytes were
 * fsynced, and the parent directory is fsynced after the rename, so a killed process leaves at most
 * an unreferenced entry in tmp/ (removed by gc once its owner is dead), never a partial object,
 * document or checkpoint. Removals of directories rename them into tmp/ first for the same reason.
 *
 * Integrity: objects are re-hashed as they are read (a table in memory, a file in one streaming
 * pass); `checkObject` trusts a stat that is unchanged since the last hash (verified.json);
 * documents carry a seal (DocumentSeal.ts); checkpoints a manifest of their files' digests.
 * Whatever fails its check is moved to quarantine/ (with a `.why` file saying what was wrong).
 *
 * gc during runs: see RootsFile.ts.
 *
 * Built on Effect's FileSystem and Path; only the streaming hash/copy (HashFile.ts) and the stat
 * cache (StatCache.ts) use node:fs.
 */
import { Effect, FileSystem, Layer, Option, Path } from "effect"
import type { Scope } from "effect"
import type { PlatformError } from "effect/PlatformError"
import { isPlatformError } from "effect/PlatformError"
import type { Digest } from "./Digest.ts"
import * as Digests from "./Digest.ts"
import { unseal } from "./DocumentSeal.ts"
import * as FileLock from "./FileLock.ts"
import * as HashFile from "./HashFile.ts"
import * as Owners from "./Owner.ts"
import * as RootsFile from "./RootsFile.ts"
import * as StatCache from "./StatCache.ts"
import {
  CorruptDocument,
  CorruptObject,
  type Damage,
  type DocumentKind,
  keptCheckpoints,
  type LatestCheckpoint,
  MissingObject,
  type ObjectRef,
  type Roots,
  Store,
  StoreError,
  type StoreShape
} from "./Store.ts"
import { documentText, isValidId, validateId, validateKind, validateRef, validateStep } from "./StoreId.ts"

/** Objects are read-only so a stage cannot modify an input it was given by path. */
const objectMode = 0o444
const documentMode = 0o644

const isReason = (tag: string) => (error: unknown): error is PlatformError =>
  isPlatformError(error) && error.reason._tag === tag
const isNotFound = isReason("NotFound")
/** A file that vanished while it was read: NotFound from Effect's FileSystem or from a hash. */
const isGone = (error: unknown): boolean =>
  isNotFound(error) || (error instanceof StoreError && (error.cause as NodeJS.ErrnoException | undefined)?.code === "ENOENT")

/** Translates filesystem errors once, at the boundary of each store method. */
const storeErrors =
  (method: string, key: string) =>
  <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, Exclude<E, PlatformError> | StoreError, R> =>
    Effect.mapError(effect, (error) =>
      isPlatformError(error) ? new StoreError({ method, key, message: error.message, cause: error }) : error
    ) as Effect.Effect<A, Exclude<E, PlatformError> | StoreError, R>

const short = (digest: string): string => `${digest.slice(0, 12)}…`

/** A checkpoint's manifest: the digest of every file it holds. */
interface CheckpointManifest {
  readonly step: number
  readonly files: ReadonlyArray<{ readonly path: string; readonly size: number; readonly digest: string }>
}

const isManifest = (value: unknown): value is CheckpointManifest => {
  const manifest = value as Partial<CheckpointManifest> | null
  return typeof manifest === "object" && manifest !== null && typeof manifest.step === "number" && Array.isArray(manifest.files) &&
    manifest.files.every((file) => typeof file?.path === "string" && typeof file.size === "number" && Digests.isDigest(file.digest))
}

const make = (rootDir: string) =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const root = path.resolve(rootDir)
    // The root, or the nearest directory above it that exists, must be a directory to hold the store.
    for (let dir = root; ; dir = path.dirname(dir)) {
      const info = yield* fs.stat(dir).pipe(Effect.option)
      if (Option.isSome(info)) {
        if (info.value.type === "Directory") break
        const what = `a ${info.value.type.toLowerCase()}`
        return yield* new StoreError({
          method: "open",
          key: root,
          message: dir === root ? `${root} is ${what}, not a directory` : `${root} cannot be created: ${dir} is ${what}`
        })
      }
      if (path.dirname(dir) === dir) break
    }
    const dirs = {
      objects: path.join(root, "objects", "sha256"),
      checkpoints: path.join(root, "checkpoints"),
      tmp: path.join(root, "tmp"),
      locks: path.join(root, "locks"),
      roots: path.join(root, "roots"),
      quarantine: path.join(root, "quarantine")
    }
    const withFileLock = yield* FileLock.make(dirs.locks, dirs.tmp)

    const ensureDir = (dir: string) => fs.makeDirectory(dir, { recursive: true })
    // The name is drawn when the Effect runs, so a reused Effect (makeTmpDir) gets a fresh one each time.
    const tmpPath = (purpose: string) => ensureDir(dirs.tmp).pipe(Effect.map(() => path.join(dirs.tmp, Owners.tmpName(purpose))))
    /** fsyncs a file, or a directory (which makes the renames and removals inside it durable). */
    const syncPath = (target: string) => Effect.scoped(Effect.flatMap(fs.open(target, { flag: "r" }), (file) => file.sync))
    const size = (info: FileSystem.File.Info) => Number(info.size)
    const statOf = (info: FileSystem.File.Info): StatCache.FileStat => ({
      size: size(info),
      mtimeMs: Option.getOrElse(Option.map(info.mtime, (date) => date.getTime()), () => 0),
      ino: Option.getOrElse(Option.map(info.ino, Number), () => 0)
    })
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

    /** The regular files under `dir`, as sorted "/"-separated relative paths. */
    const filesUnder = (dir: string) =>
      Effect.gen(function* () {
        const files: Array<string> = []
        for (const relative of yield* fs.readDirectory(dir, { recursive: true })) {
          if ((yield* fs.stat(path.join(dir, relative))).type === "File") files.push(relative.split(path.sep).join("/"))
        }
        return files.sort()
      })

    /** Moves a damaged file or tree into quarantine/, with a `.why` file beside it. */
    const quarantine = (target: string, name: string, why: string) =>
      Effect.gen(function* () {
        yield* ensureDir(dirs.quarantine)
        const aside = path.join(dirs.quarantine, `${name}.${Date.now()}`)
        const moved = yield* fs.rename(target, aside).pipe(Effect.as(true), Effect.catchIf(isNotFound, () => Effect.succeed(false)))
        if (!moved) return
        yield* fs.writeFileString(`${aside}.why`, `${why}\n`)
        yield* syncPath(path.dirname(target))
      })

    // The stat cache of objects and documents, loaded when first needed and saved when the layer closes.
    let verified: Promise<StatCache.StatCache> | undefined
    const verifiedCache = Effect.promise(() => (verified ??= StatCache.load(path.join(root, "verified.json"))))
    yield* Effect.addFinalizer(() =>
      verified === undefined ? Effect.void : Effect.promise(() => verified!.then(StatCache.save)).pipe(Effect.ignore)
    )

    // Set while this process runs gc, so its own pins (a library user's) do not wait for itself.
    let collecting = false
    const roots = yield* RootsFile.make(
      dirs.roots,
      path.join(dirs.locks, `${RootsFile.gcLock}.lock`),
      Effect.suspend(() => (collecting ? Effect.void : withFileLock(RootsFile.gcLock, Effect.void)))
    )
    const pinObject = (digest: Digest) => roots.pin([RootsFile.objectRoot(digest)])
    const pinKey = (kind: DocumentKind, id: string) => (kind === "stages" ? roots.pin([RootsFile.keyRoot(id)]) : Effect.void)

    const objectPath = (digest: Digest): string => {
      if (!Digests.isDigest(digest)) throw new TypeError(`objectPath: ${JSON.stringify(digest)} is not a sha256 digest`)
      return path.join(dirs.objects, digest.slice(0, 2), digest)
    }

    /** Records that the object file now holds `digest`, as hashed from `checkedAtMs` on. */
    const remember = (file: string, digest: Digest, checkedAtMs: number) =>
      Effect.gen(function* () {
        const info = yield* statOption(file)
        if (Option.isNone(info)) return
        StatCache.record(yield* verifiedCache, file, statOf(info.value), digest, checkedAtMs)
      })

    const missing = (ref: ObjectRef) => new MissingObject({ digest: ref.digest, message: `object ${short(ref.digest)} is not in the store` })

    const quarantineObject = (digest: Digest, file: string, problem: string) =>
      Effect.gen(function* () {
        StatCache.forget(yield* verifiedCache, file)
        yield* quarantine(file, digest, `object ${digest}: ${problem}`)
      })

    /** Quarantines a damaged object and fails with what was wrong. */
    const damagedObject = (ref: ObjectRef, file: string, problem: string) =>
      quarantineObject(ref.digest, file, problem).pipe(
        Effect.andThen(Effect.fail(new CorruptObject({ digest: ref.digest, message: `object ${short(ref.digest)}: ${problem}; moved to quarantine/` })))
      )

    const hasObject = (ref: ObjectRef) =>
      Effect.gen(function* () {
        yield* validateRef("hasObject", ref)
        yield* pinObject(ref.digest)
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
        const checkedAtMs = Date.now()
        const ref: ObjectRef = { digest: Digests.ofBytes(bytes), size: bytes.length }
        if (!(yield* hasObject(ref))) {
          yield* writeAtomic(objectPath(ref.digest), bytes, objectMode)
          yield* remember(objectPath(ref.digest), ref.digest, checkedAtMs)
        }
        return ref
      }).pipe(storeErrors("putBytes", "<bytes>"))

    const copyIn = (source: string) =>
      Effect.gen(function* () {
        const checkedAtMs = Date.now()
        const staged = yield* tmpPath("object")
        const ref = yield* hashPromise("putFile", source, (signal) => HashFile.hashCopy(source, staged, objectMode, signal))
        // After a commit the staged file is gone and the removal is a no-op; otherwise it drops a
        // duplicate copy, or the copy left by a failed commit.
        yield* hasObject(ref).pipe(
          Effect.flatMap((exists) =>
            exists ? Effect.void : commit(staged, objectPath(ref.digest)).pipe(Effect.andThen(remember(objectPath(ref.digest), ref.digest, checkedAtMs)))
          ),
          Effect.ensuring(fs.remove(staged, { force: true }).pipe(Effect.ignore))
        )
        return ref
      })

    // Renaming is only possible within one filesystem; across filesystems `move` degrades to copy + delete.
    const moveIn = (source: string) =>
      Effect.gen(function* () {
        const checkedAtMs = Date.now()
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
          if (moved) {
            yield* remember(objectPath(ref.digest), ref.digest, checkedAtMs)
            return ref
          }
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
        yield* pinObject(ref.digest)
        const checkedAtMs = Date.now()
        const file = objectPath(ref.digest)
        const bytes = yield* fs.readFile(file).pipe(Effect.catchIf(isNotFound, () => Effect.fail(missing(ref))))
        if (bytes.length !== ref.size) return yield* damagedObject(ref, file, `size ${bytes.length}, expected ${ref.size}`)
        const actual = Digests.ofBytes(bytes)
        if (actual !== ref.digest) return yield* damagedObject(ref, file, `content hashes to ${short(actual)}`)
        yield* remember(file, ref.digest, checkedAtMs)
        return bytes
      }).pipe(storeErrors("readBytes", ref.digest))

    /** What is wrong with the object file (present, of the right size), if anything; a sound one is recorded as hashed. */
    const objectProblem = (ref: ObjectRef, file: string) =>
      Effect.gen(function* () {
        const checkedAtMs = Date.now()
        const hashed = yield* hashPromise("verifyObject", file, (signal) => HashFile.hashFile(file, signal))
        if (hashed.size !== ref.size) return Option.some(`size ${hashed.size}, expected ${ref.size}`)
        if (hashed.digest !== ref.digest) return Option.some(`content hashes to ${short(hashed.digest)}`)
        yield* remember(file, ref.digest, checkedAtMs)
        return Option.none<string>()
      })

    /** Checks an object, re-hashing it unless `trustStat` and its stat is unchanged since its last hash. */
    const check = (method: string, ref: ObjectRef, trustStat: boolean) =>
      Effect.gen(function* () {
        yield* validateRef(method, ref)
        yield* pinObject(ref.digest)
        const file = objectPath(ref.digest)
        const info = yield* statOption(file)
        if (Option.isNone(info) || info.value.type !== "File") return yield* missing(ref)
        if (size(info.value) !== ref.size) return yield* damagedObject(ref, file, `size ${size(info.value)}, expected ${ref.size}`)
        if (trustStat && StatCache.trusted(yield* verifiedCache, file, statOf(info.value)) === ref.digest) return
        const problem = yield* objectProblem(ref, file)
        if (Option.isSome(problem)) return yield* damagedObject(ref, file, problem.value)
      }).pipe(storeErrors(method, ref.digest))

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

    const quarantineDocument = (kind: DocumentKind, id: string, reason: string) =>
      Effect.gen(function* () {
        const file = yield* documentPath("quarantineDocument", kind, id)
        StatCache.forget(yield* verifiedCache, file)
        yield* quarantine(file, `${kind}.${id}.json`, `${kind}/${id}.json: ${reason}`)
      }).pipe(storeErrors("quarantineDocument", id))

    /** The document in `text`, or the quarantine of its file and a CorruptDocument. */
    const unsealed = (kind: DocumentKind, id: string, text: string) => {
      const opened = unseal(text)
      if ("doc" in opened) return Effect.succeed(opened.doc)
      return quarantineDocument(kind, id, opened.problem).pipe(
        Effect.andThen(Effect.fail(new CorruptDocument({ kind, id, message: `${kind}/${id}.json: ${opened.problem}; moved to quarantine/`, problem: opened.problem })))
      )
    }

    const getDocument = (kind: DocumentKind, id: string) =>
      Effect.gen(function* () {
        const file = yield* documentPath("getDocument", kind, id)
        yield* pinKey(kind, id)
        const text = yield* fs.readFileString(file).pipe(Effect.map(Option.some), Effect.catchIf(isNotFound, () => Effect.succeed(Option.none())))
        if (Option.isNone(text)) return Option.none()
        return Option.some(yield* unsealed(kind, id, text.value))
      }).pipe(storeErrors("getDocument", id))

    const putDocument = (kind: DocumentKind, id: string, doc: unknown) =>
      Effect.gen(function* () {
        const file = yield* documentPath("putDocument", kind, id)
        yield* pinKey(kind, id)
        const text = yield* documentText(kind, id, doc)
        yield* writeAtomic(file, new TextEncoder().encode(text), documentMode)
      }).pipe(storeErrors("putDocument", id))

    // A run's folder (runs/<id>/, its telemetry) goes with its record.
    const deleteDocument = (kind: DocumentKind, id: string) =>
      Effect.gen(function* () {
        const file = yield* documentPath("deleteDocument", kind, id)
        const existed = yield* fs.remove(file).pipe(Effect.as(true), Effect.catchIf(isNotFound, () => Effect.succeed(false)))
        if (kind === "runs") yield* removeTree(path.join(root, kind, id))
        if (existed) yield* syncPath(path.dirname(file))
      }).pipe(storeErrors("deleteDocument", id))

    const documentIds = (kind: DocumentKind) =>
      listDir(path.join(root, kind)).pipe(
        Effect.map((names) => names.filter((name) => name.endsWith(".json") && isValidId(name.slice(0, -".json".length))).map((name) => name.slice(0, -".json".length)))
      )

    const listDocuments = (kind: DocumentKind) =>
      Effect.gen(function* () {
        yield* validateKind("listDocuments", kind)
        const entries = yield* Effect.forEach(yield* documentIds(kind), (id) =>
          statOption(path.join(root, kind, `${id}.json`)).pipe(
            Effect.map((info) => Option.flatMap(info, (i) => Option.map(i.mtime, (mtime) => ({ id, mtimeMs: mtime.getTime() }))))
          )
        )
        return entries.flatMap((entry) => (Option.isSome(entry) ? [entry.value] : []))
      }).pipe(storeErrors("listDocuments", kind))

    /** Checks the seal of each document of `kind`; with `trustStat`, only of those whose stat changed. */
    const checkSeals = (kind: DocumentKind, trustStat: boolean) =>
      Effect.gen(function* () {
        yield* validateKind("checkDocuments", kind)
        const cache = yield* verifiedCache
        const damaged: Array<Damage> = []
        const ids = yield* documentIds(kind)
        for (const id of ids) {
          const file = path.join(root, kind, `${id}.json`)
          const info = yield* statOption(file)
          if (Option.isNone(info)) continue
          const stat = statOf(info.value)
          if (trustStat && StatCache.trusted(cache, file, stat) !== undefined) continue
          const checkedAtMs = Date.now()
          const bytes = yield* fs.readFile(file).pipe(Effect.map(Option.some), Effect.catchIf(isNotFound, () => Effect.succeed(Option.none())))
          if (Option.isNone(bytes)) continue
          const opened = yield* unsealed(kind, id, new TextDecoder().decode(bytes.value)).pipe(
            Effect.as(true),
            Effect.catchTag("CorruptDocument", (error) => Effect.sync(() => damaged.push({ kind, id, message: `${error.problem}; moved to quarantine/` })).pipe(Effect.as(false)))
          )
          if (opened) StatCache.record(cache, file, stat, Digests.ofBytes(bytes.value), checkedAtMs)
        }
        return { checked: ids.length, damaged }
      })

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
      listDir(keyDir).pipe(
        Effect.map((names) => names.filter((name) => /^(0|[1-9]\d*)$/.test(name)).map(Number).sort((a, b) => b - a))
      )

    const saveCheckpoint = (key: string, step: number, dir: string) =>
      Effect.gen(function* () {
        yield* validateId("saveCheckpoint", key)
        yield* validateStep(step)
        yield* roots.pin([RootsFile.keyRoot(key)])
        const info = yield* fs.stat(dir)
        if (info.type !== "Directory") {
          return yield* new StoreError({ method: "saveCheckpoint", key, message: `${dir} is not a directory` })
        }
        const keyDir = path.join(dirs.checkpoints, key)
        const staged = yield* tmpPath("checkpoint")
        const files: Array<CheckpointManifest["files"][number]> = []
        for (const relative of yield* filesUnder(dir)) {
          const target = path.join(staged, "files", ...relative.split("/"))
          yield* ensureDir(path.dirname(target))
          const source = path.join(dir, ...relative.split("/"))
          const copied = yield* hashPromise("saveCheckpoint", source, (signal) => HashFile.hashCopy(source, target, documentMode, signal))
          files.push({ path: relative, size: copied.size, digest: copied.digest })
        }
        yield* ensureDir(path.join(staged, "files"))
        const manifest: CheckpointManifest = { step, files }
        yield* fs.writeFileString(path.join(staged, "manifest.json"), yield* documentText("stages", key, manifest))
        yield* syncTree(staged)
        const target = path.join(keyDir, String(step))
        yield* removeTree(target)
        yield* commit(staged, target)
        for (const old of (yield* checkpointSteps(keyDir)).slice(keptCheckpoints)) yield* removeTree(path.join(keyDir, String(old)))
      }).pipe(storeErrors("saveCheckpoint", key))

    /** What is wrong with the checkpoint in `stepDir`, if anything (every file is re-hashed). */
    const checkpointProblem = (stepDir: string, step: number) =>
      Effect.gen(function* () {
        const text = yield* fs.readFileString(path.join(stepDir, "manifest.json")).pipe(Effect.option)
        if (Option.isNone(text)) return Option.some("no manifest.json")
        const opened = unseal(text.value)
        if (!("doc" in opened)) return Option.some(`manifest.json: ${opened.problem}`)
        const manifest = opened.doc
        if (!isManifest(manifest) || manifest.step !== step) return Option.some("manifest.json does not describe this checkpoint")
        const filesDir = path.join(stepDir, "files")
        const present = yield* filesUnder(filesDir).pipe(Effect.catchIf(isNotFound, () => Effect.succeed([] as Array<string>)))
        const listed = manifest.files.map((file) => file.path).sort()
        if (present.join("\n") !== listed.join("\n")) return Option.some(`holds [${present.join(", ")}], its manifest lists [${listed.join(", ")}]`)
        for (const file of manifest.files) {
          const full = path.join(filesDir, ...file.path.split("/"))
          const hashed = yield* hashPromise("latestCheckpoint", full, (signal) => HashFile.hashFile(full, signal))
          if (hashed.digest !== file.digest || hashed.size !== file.size) {
            return Option.some(`${file.path} hashes to ${short(hashed.digest)} (${hashed.size} bytes), its manifest says ${short(file.digest)} (${file.size} bytes)`)
          }
        }
        return Option.none<string>()
      })

    const latestCheckpoint = (key: string) =>
      Effect.gen(function* () {
        yield* validateId("latestCheckpoint", key)
        yield* roots.pin([RootsFile.keyRoot(key)])
        const keyDir = path.join(dirs.checkpoints, key)
        const discarded: Array<LatestCheckpoint["discarded"][number]> = []
        for (const step of yield* checkpointSteps(keyDir)) {
          const stepDir = path.join(keyDir, String(step))
          const problem = yield* checkpointProblem(stepDir, step)
            if (Option.isNone(problem)) return { checkpoint: Option.some({ step, dir: path.join(stepDir, "files") }), discarded } satisfies LatestCheckpoint
          yield* quarantine(stepDir, `checkpoint.${key}.${step}`, `checkpoint ${key}/${step}: ${problem.value}`)
          discarded.push({ step, message: `checkpoint of step ${step}: ${problem.value}; moved to quarantine/` })
        }
        return { checkpoint: Option.none(), discarded } satisfies LatestCheckpoint
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
      const damaged: Array<Damage> = []
      let bytes = 0
      const objects = yield* listObjects
      for (const object of objects) {
        bytes += object.size
        // An object a concurrent gc removed meanwhile is gone, not damaged.
        const problem = yield* objectProblem(object, object.file).pipe(Effect.catchIf(isGone, () => Effect.succeed(Option.none<string>())))
        if (Option.isNone(problem)) continue
        yield* quarantineObject(object.digest, object.file, problem.value)
        damaged.push({ kind: "object", id: object.digest, message: `${problem.value}; moved to quarantine/` })
      }
      let documents = 0
      for (const kind of ["stages", "runs"] as const) {
        const sealed = yield* checkSeals(kind, false)
        documents += sealed.checked
        damaged.push(...sealed.damaged)
      }
      let checkpoints = 0
      for (const key of yield* listDir(dirs.checkpoints)) {
        const keyDir = path.join(dirs.checkpoints, key)
        for (const step of yield* checkpointSteps(keyDir)) {
          checkpoints += 1
          const stepDir = path.join(keyDir, String(step))
          const problem = yield* checkpointProblem(stepDir, step).pipe(Effect.catchIf(isGone, () => Effect.succeed(Option.none<string>())))
          // A checkpoint its running stage replaced meanwhile is gone, not damaged.
          if (Option.isNone(problem) || !(yield* fs.exists(stepDir))) continue
          yield* quarantine(stepDir, `checkpoint.${key}.${step}`, `checkpoint ${key}/${step}: ${problem.value}`)
          damaged.push({ kind: "checkpoint", id: `${key}/${step}`, message: `${problem.value}; moved to quarantine/` })
        }
      }
      return { objects: objects.length, bytes, documents, checkpoints, damaged }
    }).pipe(storeErrors("verifyAll", root))

    const isStaleTmp = (name: string, mtime: Option.Option<Date>) => {
      const owner = Owners.parseTmpName(name)
      if (owner !== undefined && owner.host === Owners.self.host) return Owners.isDead(owner)
      return Owners.outlived(mtime)
    }

    /** Removes (or, in a dry run, only measures) each entry of `dir` that `stale` picks. */
    const sweepDir = (dir: string, stale: (name: string, mtime: Option.Option<Date>) => boolean, dryRun: boolean) =>
      Effect.gen(function* () {
        let bytes = 0
        for (const name of yield* listDir(dir)) {
          const entry = path.join(dir, name)
          const info = yield* statOption(entry)
          if (Option.isNone(info) || !stale(name, info.value.mtime)) continue
          bytes += yield* treeSize(entry).pipe(Effect.catchIf(isNotFound, () => Effect.succeed(0)))
          if (!dryRun) yield* fs.remove(entry, { recursive: true, force: true })
        }
        return bytes
      })

    const collect = <E, R>(plan: (pinned: Roots) => Effect.Effect<Roots, E, R>, options: { readonly dryRun: boolean }) =>
      withLock(
        RootsFile.gcLock,
        Effect.gen(function* () {
          collecting = true
          const pinned = yield* roots.live.pipe(storeErrors("collect", root))
          const kept = yield* plan(pinned)
          return yield* Effect.gen(function* () {
            let objects = 0
            let bytes = 0
            const cache = yield* verifiedCache
            for (const object of yield* listObjects) {
              if (kept.objects.has(object.digest) || pinned.objects.has(object.digest)) continue
              objects += 1
              bytes += object.size
              if (options.dryRun) continue
              yield* fs.remove(object.file, { force: true })
              StatCache.forget(cache, object.file)
            }
            for (const key of yield* listDir(dirs.checkpoints)) {
              if (kept.keys.has(key) || pinned.keys.has(key)) continue
              const keyDir = path.join(dirs.checkpoints, key)
              bytes += yield* treeSize(keyDir)
              if (!options.dryRun) yield* removeTree(keyDir)
            }
            bytes += yield* sweepDir(dirs.tmp, isStaleTmp, options.dryRun)
            bytes += yield* sweepDir(dirs.quarantine, (_, mtime) => Owners.outlived(mtime), options.dryRun)
            if (!options.dryRun) for (const stale of pinned.stale) yield* fs.remove(stale, { force: true })
            return { objects, bytes }
          }).pipe(storeErrors("collect", root))
        }).pipe(Effect.ensuring(Effect.sync(() => (collecting = false))))
      )

    return Store.of({
      root,
      putFile,
      putBytes,
      objectPath,
      readBytes,
      verifyObject: (ref) => check("verifyObject", ref, false),
      checkObject: (ref) => check("checkObject", ref, true),
      hasObject,
      makeTmpDir,
      getDocument,
      putDocument,
      deleteDocument,
      quarantineDocument,
      listDocuments,
      checkDocuments: (kind) => checkSeals(kind, true).pipe(Effect.map((result) => result.damaged), storeErrors("checkDocuments", kind)),
      withLock,
      pinning: roots.pinning.pipe(storeErrors("pinning", dirs.roots)),
      saveCheckpoint,
      latestCheckpoint,
      clearCheckpoints,
      verifyAll,
      collect
    } satisfies StoreShape)
  })

/** The store rooted at `root` (created on first write); fails when `root` exists and is not a directory. */
export const layerDisk = (root: string): Layer.Layer<Store, StoreError, FileSystem.FileSystem | Path.Path> =>
  Layer.effect(Store, make(root))
