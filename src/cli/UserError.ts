/**
 * The CLI's error boundary: every expected error becomes one line on stderr and exit code 1.
 * Only defects (engine bugs) keep their stack.
 */
import { Effect, Schema } from "effect"
import { errorLine } from "../ErrorLine.ts"
import type { Tagged } from "../ErrorLine.ts"

/** A mistake in how the CLI was used that no other error type describes. */
export class UsageError extends Schema.TaggedError<UsageError>()("UsageError", {
  message: Schema.String
}) {}

/** Prints expected errors as one line and sets a failing exit code. */
export const reportErrors = <A, E extends Tagged, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<void, never, R> =>
  effect.pipe(
    Effect.asVoid,
    Effect.catch((error) =>
      Effect.sync(() => {
        process.stderr.write(`error: ${errorLine(error)}\n`)
        process.exitCode = 1
      })
    )
  )
