/**
 * External files and directories (`p.file`, `p.dir`) enter the store by content. A stat cache
 * (size, mtime, inode → digest), kept in the store, avoids re-hashing unchanged multi-GB inputs on
 * every run; touching a file without changing its bytes costs one re-hash and changes no key.
 *
 * The stored copy is checked each time (a stat, unless it changed since it was last hashed): a
 * copy found missing or corrupt is imported again from its source, and a source whose bytes changed
 * although its stat did not is said to have changed.
 */
import { basename, join } from "node:path"
import { Effect, Schema } from "effect"
import { short } from "../key/Key.ts"
import { hashFile } from "../store/HashFile.ts"
import * as StatCache from "../store/StatCache.ts"
import { Store, type StoreError } from "../store/Store.ts"
import { stat } from "node:fs/promises"
import { listTree, putListing } from "./Artifacts.ts"
import type { ArtifactRef, FileEntry } from "./Records.ts"

/** An external input named by the pipeline file does not exist or cannot be read. */
export class MissingInput extends Schema.TaggedError<MissingInput>()("MissingInput", {
  path: Schema.String,
  message: Schema.String
}) {}

/** Where the stat cache of external inputs is kept in the store. */
const cacheFile = (root: string) => join(root, "statcache.json")

/** Loads the stat cache of external inputs (an unreadable cache is an empty one: it only saves work). */
export const loadStatCache = Effect.gen(function*() {
  const store = yield* Store
  return yield* Effect.promise(() => StatCache.load(cacheFile(store.root)))
})

/** Writes the stat cache back (merged with what concurrent runs wrote). */
export const saveStatCache = (cache: StatCache.StatCache) => Effect.promise(() => StatCache.save(cache))

/** How an import reports what it found wrong and repaired. */
export type Warn = (message: string) => void

const statOf = (path: string) =>
  Effect.tryPromise({
    try: () => stat(path),
    catch: () => new MissingInput({ path, message: "no such file or directory" })
  })

const blob = (ref: { readonly digest: string; readonly size: number }, path: string): ArtifactRef =>
  ({ kind: "blob", digest: ref.digest as ArtifactRef["digest"], size: ref.size, name: basename(path) })

/**
 * Imports one external file into the store, returning it as a blob artifact named by its basename.
 * `rehash` ignores the stat cache (to repair a stored copy found damaged while it was read).
 */
export const importFile = (
  cache: StatCache.StatCache,
  path: string,
  warn: Warn,
  options: { readonly rehash?: boolean } = {}
): Effect.Effect<ArtifactRef, MissingInput | StoreError, Store> =>
  Effect.gen(function*() {
    const store = yield* Store
    const info = yield* statOf(path)
    if (!info.isFile()) return yield* new MissingInput({ path, message: "not a regular file" })
    const prior = StatCache.previous(cache, path)
    const copyIsSound = (digest: string) =>
      store.checkObject({ digest: digest as ArtifactRef["digest"], size: info.size }).pipe(
        Effect.as(true),
        Effect.catchTags({
          CorruptObject: (error) => Effect.sync(() => warn(`${path}: its stored copy was corrupt (${error.message}); imported again from ${path}`)).pipe(Effect.as(false)),
          MissingObject: () => Effect.succeed(false)
        })
      )
    const trusted = options.rehash === true ? undefined : StatCache.trusted(cache, path, info)
    if (trusted !== undefined && (yield* copyIsSound(trusted))) return blob({ digest: trusted, size: info.size }, path)
    const checkedAtMs = Date.now()
    // A touched file whose bytes did not change is re-hashed in place, not copied into the store again.
    if (trusted === undefined && prior !== undefined && prior.size === info.size && options.rehash !== true) {
      const rehashed = yield* Effect.tryPromise({
        try: () => hashFile(path),
        catch: () => new MissingInput({ path, message: "cannot read the file" })
      })
      if (rehashed.digest === prior.digest && (yield* copyIsSound(prior.digest))) {
        StatCache.record(cache, path, info, rehashed.digest, checkedAtMs)
        return blob(rehashed, path)
      }
    }
    const ref = yield* store.putFile(path)
    const statUnchanged = prior !== undefined && prior.size === info.size && prior.mtimeMs === info.mtimeMs && prior.ino === info.ino
    if (statUnchanged && prior.digest !== ref.digest) {
      warn(`${path} changed since it was last imported although its size, modification time and inode did not (${short(prior.digest)} → ${short(ref.digest)})`)
    }
    StatCache.record(cache, path, info, ref.digest, checkedAtMs)
    return blob(ref, path)
  })

/** Imports an external directory: each file by content, and the canonical listing naming the tree. */
export const importDir = (
  cache: StatCache.StatCache,
  path: string,
  warn: Warn,
  options: { readonly rehash?: boolean } = {}
): Effect.Effect<ArtifactRef, MissingInput | StoreError, Store> =>
  Effect.gen(function*() {
    const info = yield* statOf(path)
    if (!info.isDirectory()) return yield* new MissingInput({ path, message: "not a directory" })
    const files: Array<FileEntry> = []
    const tree = yield* Effect.tryPromise({
      try: () => listTree(path, true),
      catch: (cause) => new MissingInput({ path, message: `cannot read the directory: ${cause instanceof Error ? cause.message : String(cause)}` })
    })
    for (const rel of tree) {
      const ref = yield* importFile(cache, join(path, ...rel.split("/")), warn, options)
      files.push({ path: rel, size: ref.size, digest: ref.digest })
    }
    return yield* putListing(files, basename(path))
  })
