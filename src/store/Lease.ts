/**
 * A lock that spans every machine sharing a store: a lease record (leases/<name>.json) created
 * only if absent, rewritten every quarter of its time-to-live while held, and deleted on release.
 * A waiter polls until the record is gone; one not rewritten for two time-to-lives belongs to a
 * holder that died (killed, machine lost) and is removed by the waiter.
 *
 * Best effort where a holder died: two waiters that remove one stale lease at once can both
 * create theirs, and both compute the stage. That costs work, never correctness: outputs are
 * deterministic and only one stage record is created.
 */
import { Effect, Fiber, Option } from "effect"
import * as Owners from "./Owner.ts"
import type { RemoteShape } from "./Remote.ts"
import type { StoreError } from "./Store.ts"

/** How a lease is held and waited for. */
export interface LeaseTiming {
  readonly ttlMs: number
  readonly pollMs: number
}

/** A minute: a holder rewrites its lease every 15 s, so a lease is stale after two minutes without a sign of life. */
export const defaultTiming: LeaseTiming = { ttlMs: 60_000, pollMs: 500 }

/** Runs `effect` holding the lease `name` in `remote`, waiting for it if another process holds it. */
export const withLease = <A, E, R>(
  remote: RemoteShape,
  name: string,
  effect: Effect.Effect<A, E, R>,
  timing: LeaseTiming = defaultTiming
): Effect.Effect<A, E | StoreError, R> => {
  const text = () => `${JSON.stringify({ host: Owners.self.host, pid: Owners.self.pid, renewedAt: new Date().toISOString() })}\n`
  const removeStaleOrWait = Effect.gen(function*() {
    const held = yield* remote.getRecord("leases", name)
    if (Option.isSome(held) && Date.now() - held.value.mtimeMs > 2 * timing.ttlMs) return yield* remote.deleteRecord("leases", name)
    yield* Effect.sleep(timing.pollMs)
  })
  // Acquisition is uninterruptible but for the wait between two tries, so a lease that was created
  // is always released, and a waiter can still be stopped.
  const acquire = Effect.gen(function*() {
    while (!(yield* remote.createRecord("leases", name, text()))) yield* Effect.interruptible(removeStaleOrWait)
    // A failed renewal is retried at the next one; the lease only goes stale if every one fails.
    return yield* Effect.forkChild(
      Effect.forever(Effect.sleep(timing.ttlMs / 4).pipe(Effect.andThen(remote.putRecord("leases", name, text()).pipe(Effect.ignore))))
    )
  })
  return Effect.acquireUseRelease(
    acquire,
    () => effect,
    (renewal) => Fiber.interrupt(renewal).pipe(Effect.andThen(remote.deleteRecord("leases", name)), Effect.ignore)
  )
}
