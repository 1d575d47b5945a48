/**
 * A cross-process exclusive lock made of one file, `locks/<name>.lock`.
 *
 * The lock file is created complete or not at all: its content (owner and a nonce) is written to a
 * tmp/ file first and then hard-linked to the lock path, which fails with EEXIST while someone holds
 * it (an O_EXCL create would leave an empty file if the process died between create and write).
 * A holder whose pid is dead on this host is broken by renaming its file aside and checking that the
 * nonce is still the one judged stale, so two processes breaking the same lock cannot remove a lock
 * that a third has just taken.
 */
import { randomBytes } from "node:crypto"
import { Duration, Effect, FileSystem, Path } from "effect"
import type { PlatformError } from "effect/PlatformError"
import type { Owner } from "./Owner.ts"
import * as Owners from "./Owner.ts"
import { StoreError } from "./Store.ts"

interface Holder extends Owner {
  readonly nonce: string
}

const parseHolder = (text: string): Holder | undefined => {
  try {
    const value = JSON.parse(text) as Partial<Holder>
    return typeof value.pid === "number" && typeof value.host === "string" && typeof value.nonce === "string"
      ? { pid: value.pid, host: value.host, nonce: value.nonce }
      : undefined
  } catch {
    return undefined
  }
}

const reason = (error: PlatformError): string => error.reason._tag

/** Polling delays while waiting: 5 ms doubling up to 200 ms, so a short critical section costs little. */
const delay = (attempt: number): Duration.Duration => Duration.millis(Math.min(200, 5 * 2 ** attempt))

/** Lock files live in `lockDir`; `tmpDir` must be on the same filesystem (hard links). */
export const make = (lockDir: string, tmpDir: string) =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path

    const readHolder = (lockPath: string) =>
      fs.readFileString(lockPath).pipe(
        Effect.map((text) => ({ found: true as const, holder: parseHolder(text) })),
        Effect.catchIf(
          (error) => reason(error) === "NotFound",
          () => Effect.succeed({ found: false as const, holder: undefined })
        )
      )

    // Moves a stale lock aside; puts it back if it turned out to be a fresh one taken meanwhile.
    const breakStale = (lockPath: string, stale: Holder) =>
      Effect.gen(function* () {
        const aside = path.join(tmpDir, Owners.tmpName("stale"))
        const moved = yield* fs.rename(lockPath, aside).pipe(
          Effect.as(true),
          Effect.catchIf((error) => reason(error) === "NotFound", () => Effect.succeed(false))
        )
        if (!moved) return
        const { holder } = yield* readHolder(aside)
        if (holder?.nonce !== stale.nonce) yield* fs.link(aside, lockPath).pipe(Effect.ignore)
        yield* fs.remove(aside, { force: true })
      })

    // One attempt, never interrupted halfway: either the lock is ours and we know it, or it is not.
    const attempt = (lockPath: string, mine: Holder) =>
      Effect.gen(function* () {
        const staged = path.join(tmpDir, Owners.tmpName("lock"))
        yield* fs.writeFileString(staged, JSON.stringify(mine), { flag: "wx" })
        const taken = yield* fs.link(staged, lockPath).pipe(
          Effect.as(true),
          Effect.catchIf((error) => reason(error) === "AlreadyExists", () => Effect.succeed(false)),
          Effect.ensuring(fs.remove(staged, { force: true }).pipe(Effect.ignore))
        )
        if (taken) return true
        const { found, holder } = yield* readHolder(lockPath)
        if (!found) return false
        if (holder !== undefined && Owners.isDead(holder)) yield* breakStale(lockPath, holder)
        return false
      }).pipe(Effect.uninterruptible)

    const acquire = (lockPath: string, mine: Holder, restore: <A, E, R>(e: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>) => {
      const loop = (n: number): Effect.Effect<void, PlatformError> =>
        attempt(lockPath, mine).pipe(
          Effect.flatMap((taken) => (taken ? Effect.void : restore(Effect.sleep(delay(n))).pipe(Effect.andThen(loop(n + 1)))))
        )
      return loop(0)
    }

    const release = (lockPath: string, mine: Holder) =>
      readHolder(lockPath).pipe(
        Effect.flatMap(({ holder }) => (holder?.nonce === mine.nonce ? fs.remove(lockPath, { force: true }) : Effect.void)),
        Effect.ignore
      )

    /** Runs `effect` while holding lock `name` (already validated), waiting for it as long as needed. */
    const withLock = <A, E, R>(name: string, effect: Effect.Effect<A, E, R>): Effect.Effect<A, E | StoreError, R> => {
      const lockPath = path.join(lockDir, `${name}.lock`)
      const mine: Holder = { ...Owners.self, nonce: randomBytes(12).toString("hex") }
      return Effect.uninterruptibleMask((restore) =>
        acquire(lockPath, mine, restore).pipe(
          Effect.mapError(
            (cause) => new StoreError({ method: "withLock", key: name, message: `cannot take lock ${lockPath}: ${cause.message}`, cause })
          ),
          Effect.andThen(restore(effect).pipe(Effect.ensuring(release(lockPath, mine))))
        )
      )
    }
    return withLock
  })
