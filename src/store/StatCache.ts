/**
 * A stat cache: path → (size, mtime, inode) when it was last hashed, and the digest it had. A file
 * whose stat is unchanged is trusted without re-reading it; one whose size, mtime or inode changed
 * is hashed again. Used for external inputs (so multi-GB datasets are not re-hashed every run) and
 * for store objects and documents (so a cache hit checks its outputs with a stat each).
 *
 * The cache only saves work: an unreadable file is an empty cache, an entry that does not parse is
 * dropped, and concurrent writers merge (the later check of a path wins).
 */
import { randomBytes } from "node:crypto"
import { readFile, rename, rm, writeFile } from "node:fs/promises"
import type { Digest } from "./Digest.ts"
import { isDigest } from "./Digest.ts"

/** The stat fields the cache compares. */
export interface FileStat {
  readonly size: number
  readonly mtimeMs: number
  readonly ino: number
}

/** What was true of a path when it was hashed. */
export interface Entry extends FileStat {
  readonly digest: Digest
  /** When the hash started: a file modified around then may change again without its stat showing it. */
  readonly checkedAtMs: number
}

/**
 * A file modified within this window of being hashed may change again within one mtime tick without
 * its stat changing (git's "racy clean" problem), so such entries are never trusted.
 */
const racyWindowMs = 2_000

/** The entries of one process, with the file they persist to. */
export interface StatCache {
  readonly file: string
  readonly entries: Map<string, Entry>
  /** Paths found damaged or gone: removed from the file too when it is saved. */
  readonly forgotten: Set<string>
  /** Whether an entry was added or removed since the cache was loaded. */
  dirty: boolean
}

const isEntry = (value: unknown): value is Entry => {
  const entry = value as Partial<Entry> | null
  return typeof entry === "object" && entry !== null && isDigest(entry.digest) &&
    [entry.size, entry.mtimeMs, entry.ino, entry.checkedAtMs].every((n) => typeof n === "number" && Number.isFinite(n))
}

const readEntries = async (file: string): Promise<Map<string, Entry>> => {
  try {
    const parsed = JSON.parse(await readFile(file, "utf8")) as Record<string, unknown>
    return new Map(Object.entries(parsed).filter((pair): pair is [string, Entry] => isEntry(pair[1])))
  } catch {
    return new Map()
  }
}

/** Loads the cache kept in `file`. */
export const load = async (file: string): Promise<StatCache> => ({
  file,
  entries: await readEntries(file),
  forgotten: new Set(),
  dirty: false
})

/** An empty cache that persists to `file` (for a process that only adds entries). */
export const empty = (file: string): StatCache => ({ file, entries: new Map(), forgotten: new Set(), dirty: false })

/** The digest `path` had when it was hashed, if its stat still says it is that file. */
export const trusted = (cache: StatCache, path: string, stat: FileStat): Digest | undefined => {
  const entry = cache.entries.get(path)
  return entry !== undefined && entry.size === stat.size && entry.mtimeMs === stat.mtimeMs && entry.ino === stat.ino &&
      stat.mtimeMs < entry.checkedAtMs - racyWindowMs
    ? entry.digest
    : undefined
}

/** The cached entry of `path` whatever its stat now (to tell "changed" from "never seen"). */
export const previous = (cache: StatCache, path: string): Entry | undefined => cache.entries.get(path)

/** Records that `path`, with `stat`, hashed to `digest` in a hash that started at `checkedAtMs`. */
export const record = (cache: StatCache, path: string, stat: FileStat, digest: Digest, checkedAtMs: number): void => {
  cache.entries.set(path, { size: stat.size, mtimeMs: stat.mtimeMs, ino: stat.ino, digest, checkedAtMs })
  cache.forgotten.delete(path)
  cache.dirty = true
}

/** Forgets `path` (its file was found damaged or removed). */
export const forget = (cache: StatCache, path: string): void => {
  cache.entries.delete(path)
  cache.forgotten.add(path)
  cache.dirty = true
}

/**
 * Writes the cache atomically (tmp file + rename) if it changed, merged with what other processes
 * wrote meanwhile: for a path both know, the later check wins; paths this process forgot stay forgotten.
 */
export const save = async (cache: StatCache): Promise<void> => {
  if (!cache.dirty) return
  const merged = await readEntries(cache.file)
  for (const path of cache.forgotten) merged.delete(path)
  for (const [path, entry] of cache.entries) {
    const other = merged.get(path)
    if (other === undefined || other.checkedAtMs <= entry.checkedAtMs) merged.set(path, entry)
  }
  const tmp = `${cache.file}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`
  try {
    await writeFile(tmp, JSON.stringify(Object.fromEntries(merged)))
    await rename(tmp, cache.file)
    cache.dirty = false
  } finally {
    await rm(tmp, { force: true })
  }
}
