/**
 * Roots files, which make gc safe while runs are in progress. While a `pinning` scope is open, the
 * disk store appends every object digest and stage key it writes or checks to
 * roots/<pid>.<host>.roots.<random>; the file is removed when the last such scope closes. gc keeps
 * everything the roots files of live processes name.
 *
 * Ordering with gc, which holds the gc lock from before it reads any roots file until it has
 * deleted what it deletes: a pin is appended before the store looks at or writes what it names,
 * and then, if the gc lock is held, the store waits for that gc to end. So either the pin was in the
 * file when gc read it (gc keeps it), or gc took its lock after the pin was written and the store
 * saw the lock, waited, and only then looks (and writes again what gc swept).
 */
import { Effect, FileSystem, Option, Path } from "effect"
import type { Scope } from "effect"
import type { PlatformError } from "effect/PlatformError"
import type { Digest } from "./Digest.ts"
import { isDigest } from "./Digest.ts"
import * as Owners from "./Owner.ts"

/** The lock gc holds while it marks and sweeps. */
export const gcLock = "gc"

/** A root as one line of a roots file. */
export type Root = `o ${string}` | `k ${string}`

/** The line pinning an object. */
export const objectRoot = (digest: Digest): Root => `o ${digest}`

/** The line pinning a stage key (its record and checkpoints). */
export const keyRoot = (key: string): Root => `k ${key}`

/** Roots read from the files of live processes; `stale` are files of dead owners. */
export interface LiveRoots {
  readonly objects: Set<Digest>
  readonly keys: Set<string>
  readonly stale: ReadonlyArray<string>
}

/**
 * The roots of this process, kept in `dir`. `awaitGc` waits for a gc in progress to end (taking and
 * releasing its lock, which also breaks the lock of a gc that died).
 */
export const make = (dir: string, gcLockPath: string, awaitGc: Effect.Effect<void, unknown>) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    let scopes = 0
    let file: string | undefined
    const pinned = new Set<string>()

    /** Appends the roots not yet pinned; waits for a gc in progress when there were any. */
    const pin = (roots: ReadonlyArray<Root>): Effect.Effect<void, PlatformError> =>
      Effect.gen(function*() {
        if (file === undefined) return
        const fresh = roots.filter((root) => !pinned.has(root))
        if (fresh.length === 0) return
        yield* fs.writeFileString(file, fresh.map((root) => `${root}\n`).join(""), { flag: "a" })
        for (const root of fresh) pinned.add(root)
        if (yield* fs.exists(gcLockPath)) yield* awaitGc.pipe(Effect.ignore)
      })

    const open = Effect.gen(function*() {
      scopes += 1
      if (file !== undefined) return
      yield* fs.makeDirectory(dir, { recursive: true })
      const created = path.join(dir, Owners.tmpName("roots"))
      yield* fs.writeFileString(created, "", { flag: "wx" })
      file = created
    })

    const close = Effect.suspend(() => {
      scopes -= 1
      if (scopes > 0 || file === undefined) return Effect.void
      const done = file
      file = undefined
      pinned.clear()
      return fs.remove(done, { force: true }).pipe(Effect.ignore)
    })

    const pinning: Effect.Effect<void, PlatformError, Scope.Scope> = Effect.acquireRelease(open, () => close)

    const isStale = (name: string, mtime: Option.Option<Date>): boolean => {
      const owner = Owners.parseTmpName(name)
      if (owner === undefined) return true
      if (owner.host === Owners.self.host) return Owners.isDead(owner)
      return Owners.outlived(mtime)
    }

    /** Every root named by a live process's file (this process's included). */
    const live: Effect.Effect<LiveRoots, PlatformError> = Effect.gen(function*() {
      const objects = new Set<Digest>()
      const keys = new Set<string>()
      const stale: Array<string> = []
      const names = yield* fs.readDirectory(dir).pipe(
        Effect.catchIf((error) => error.reason._tag === "NotFound", () => Effect.succeed([] as Array<string>))
      )
      for (const name of names) {
        const entry = path.join(dir, name)
        const info = yield* fs.stat(entry).pipe(Effect.option)
        if (Option.isNone(info)) continue
        if (isStale(name, info.value.mtime)) {
          stale.push(entry)
          continue
        }
        const text = yield* fs.readFileString(entry).pipe(
          Effect.catchIf((error) => error.reason._tag === "NotFound", () => Effect.succeed(""))
        )
        for (const line of text.split("\n")) {
          const value = line.slice(2)
          if (line.startsWith("o ") && isDigest(value)) objects.add(value)
          else if (line.startsWith("k ") && value !== "") keys.add(value)
        }
      }
      return { objects, keys, stale }
    })

    return { pin, pinning, live }
  })
