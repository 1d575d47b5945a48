/**
 * The one line a person reads for an expected error, by its tag: the CLI prints it after "error:",
 * the runner records it for a failed stage.
 */

/** Any expected error of the engine: a tag and a message, plus the fields its line names. */
export interface Tagged {
  readonly _tag: string
  readonly message: string
}

/** The one line printed for an expected error. */
export const errorLine = (tagged: Tagged): string => {
  const error = tagged as Tagged & Readonly<Record<string, unknown>>
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
    case "DamagedArtifact":
      return `${error.name}: ${error.message} (the next run recomputes it)`
    case "MissingInput":
      return `${error.path}: ${error.message}`
    default:
      return error.message
  }
}
