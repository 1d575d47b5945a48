/**
 * External files and directories (`p.file`, `p.dir`) enter the store by content. A stat cache
 * (size, mtime, inode → digest), kept in the store, avoids re-hashing unchanged multi-GB inputs on
 * every run; touching a file without changing its bytes costs one re-hash and changes no key.
 */
import { randomBytes } from "node:crypto"
import { readFile, rename, stat, writeFile } from "node:fs/promises"
import { basename, join } from "node:path"
import { Effect, Ref, Schema } from "effect"
import { type Digest, isDigest } from "../store/Digest.ts"
import { Store, StoreError } from "../store/Store.ts"
import { hashFile } from "../store/HashFile.ts"
import { listTree, putListing } from "./Artifacts.ts"
import type { ArtifactRef, FileEntry } from "./Records.ts"

/** An external input named by the pipeline file does not exist or cannot be read. */
export class MissingInput extends Schema.TaggedError<MissingInput>()("MissingInput", {
  path: Schema.String,
  message: Schema.String
}) {}

interface StatEntry {
  readonly size: number
  readonly mtimeMs: number
  readonly ino: number
  readonly digest: Digest
  readonly checkedAtMs: number
}

/**
 * A file modified within this window of being hashed may change again within one mtime tick without
 * its stat changing (git's "racy clean" problem), so such entries are never trusted.
 */
const racyWindowMs = 2_000

/** The stat cache of one run: loaded from the store, saved back once at the end. */
export interface StatCache {
  readonly entries: Ref.Ref<Record<string, StatEntry>>
  readonly file: string
}

const cacheFile = (root: string) => join(root, "statcache.json")

/** Loads the stat cache (an unreadable cache is an empty one, an entry without a digest is dropped: it only saves work). */
export const loadStatCache = Effect.gen(function*() {
  const store = yield* Store
  const file = cacheFile(store.root)
  const entries = yield* Effect.promise(() =>
    readFile(file, "utf8")
      .then((text) => Object.entries(JSON.parse(text) as Record<string, { digest?: unknown }>))
      .then((entries) => Object.fromEntries(entries.filter(([, entry]) => isDigest(entry.digest))) as Record<string, StatEntry>)
      .catch(() => ({}))
  )
  return { entries: yield* Ref.make(entries), file } satisfies StatCache
})

/** Writes the stat cache atomically (tmp file + rename); concurrent runs: the last one wins. */
export const saveStatCache = (cache: StatCache) =>
  Effect.gen(function*() {
    const entries = yield* Ref.get(cache.entries)
    const tmp = `${cache.file}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`
    yield* Effect.tryPromise({
      try: async () => {
        await writeFile(tmp, JSON.stringify(entries))
        await rename(tmp, cache.file)
      },
      catch: (cause) => new StoreError({ method: "saveStatCache", key: cache.file, message: String(cause), cause })
    })
  })

const statOf = (path: string) =>
  Effect.tryPromise({
    try: () => stat(path),
    catch: () => new MissingInput({ path, message: "no such file or directory" })
  })

/** Imports one external file into the store, returning it as a blob artifact named by its basename. */
export const importFile = (cache: StatCache, path: string): Effect.Effect<ArtifactRef, MissingInput | StoreError, Store> =>
  Effect.gen(function*() {
    const store = yield* Store
    const info = yield* statOf(path)
    if (!info.isFile()) return yield* new MissingInput({ path, message: "not a regular file" })
    const cached = (yield* Ref.get(cache.entries))[path]
    const stored = cached !== undefined && cached.size === info.size &&
        (yield* store.hasObject({ digest: cached.digest, size: cached.size }))
      ? cached
      : undefined
    const trusted = stored !== undefined && stored.mtimeMs === info.mtimeMs && stored.ino === info.ino &&
      info.mtimeMs < stored.checkedAtMs - racyWindowMs
    if (trusted) return { kind: "blob", digest: stored.digest, size: stored.size, name: basename(path) }
    const checkedAtMs = Date.now()
    // A touched file whose bytes did not change is re-hashed in place, not copied into the store again.
    const rehashed = stored === undefined ? undefined : yield* Effect.tryPromise({
      try: () => hashFile(path),
      catch: () => new MissingInput({ path, message: "cannot read the file" })
    })
    const ref = rehashed !== undefined && rehashed.digest === stored?.digest ? rehashed : yield* store.putFile(path)
    yield* Ref.update(cache.entries, (entries) => ({
      ...entries,
      [path]: { size: ref.size, mtimeMs: info.mtimeMs, ino: info.ino, digest: ref.digest, checkedAtMs }
    }))
    return { kind: "blob", digest: ref.digest, size: ref.size, name: basename(path) }
  })

/** Imports an external directory: each file by content, and the canonical listing naming the tree. */
export const importDir = (cache: StatCache, path: string): Effect.Effect<ArtifactRef, MissingInput | StoreError, Store> =>
  Effect.gen(function*() {
    const info = yield* statOf(path)
    if (!info.isDirectory()) return yield* new MissingInput({ path, message: "not a directory" })
    const files: Array<FileEntry> = []
    const tree = yield* Effect.tryPromise({
      try: () => listTree(path, true),
      catch: (cause) => new MissingInput({ path, message: `cannot read the directory: ${cause instanceof Error ? cause.message : String(cause)}` })
    })
    for (const rel of tree) {
      const ref = yield* importFile(cache, join(path, ...rel.split("/")))
      files.push({ path: rel, size: ref.size, digest: ref.digest })
    }
    return yield* putListing(files, basename(path))
  })
