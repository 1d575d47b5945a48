import { Schema } from "effect"

/** A dataset file that cannot be read at all (not UTF-8, a corrupt Parquet footer, no rows...). */
export class DatasetError extends Schema.TaggedError<DatasetError>()("DatasetError", {
  file: Schema.String,
  message: Schema.String,
  cause: Schema.optional(Schema.Unknown)
}) {}
