/**
 * `withDefault`: a config field that a pipeline or `--set` may leave out. The default is applied
 * when decoding, so it is part of the decoded config and therefore of the stage key: changing a
 * default reruns the stages that relied on it.
 */
import { Effect, Schema } from "effect"

export const withDefault = <S extends Schema.Top>(value: S["Encoded"]) => (schema: S) =>
  schema.pipe(Schema.withDecodingDefaultKey(Effect.succeed(value)))
