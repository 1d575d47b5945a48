import { Schema } from "effect"

/**
 * The one error a stage's `run` or `inspect` may fail with. `message` carries the user-facing detail
 * (`file:line: field: reason`); the CLI prints it as a single line.
 */
export class StageFailure extends Schema.TaggedError<StageFailure>()("StageFailure", {
  stage: Schema.String,
  message: Schema.String,
  cause: Schema.optional(Schema.Unknown)
}) {}
