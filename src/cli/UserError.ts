/**
 * The CLI's error boundary: every expected error becomes one line on stderr and exit code 1.
 * Only defects (engine bugs) keep their stack.
 */
import { Effect, Schema } from "effect"

/** A mistake in how the CLI was used that no other error type describes. */
export class UsageError extends Schema.TaggedError<UsageError>()("UsageError", {
  message: Schema.String
}) {}

type Tagged = { readonly _tag: string; readonly message: string } & Record<string, unknown>

/** The one line printed for an expected error. */
export const errorLine = (error: Tagged): string => {
  switch (error._tag) {
    case "PipelineLoadError":
      return `${error.location}: ${error.message}`
    case "ConfigError":
      return `config ${error.path}: ${error.message}`
    case "CodeDigestError":
      return `${error.file}: ${error.message}`
    case "StoreError":
      return `store ${error.method} ${error.key}: ${error.message}`
    case "RunNotFound":
      return `run ${error.ref}: ${error.message}`
    case "StageFailure":
      return `${error.stage}: ${error.message}`
    case "CorruptObject":
      return `corrupt object ${error.digest}: ${error.message}`
    case "MissingInput":
      return `${error.path}: ${error.message}`
    default:
      return error.message
  }
}

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
