/**
 * Schemas of the documents the engine keeps in the store: stage records (the commit point of a
 * stage's outputs) and run records (what one `pipeline run` did). The store treats both as opaque.
 */
import { Schema } from "effect"
import { Key } from "../key/Key.ts"
import { KeyManifest } from "../key/Manifest.ts"
import { Digest } from "../store/Digest.ts"
import { Warning } from "../telemetry/Warning.ts"

/** One file of a directory artifact. */
export const FileEntry = Schema.Struct({ path: Schema.String, size: Schema.Number, digest: Digest })
export type FileEntry = typeof FileEntry.Type

/**
 * A stored artifact. `digest` names its content: the IPC file of a table, the bytes of a blob, the
 * canonical file listing of a directory (whose entries are separate objects, listed in `files`).
 */
export const ArtifactRef = Schema.Struct({
  kind: Schema.Literals(["table", "blob", "files"]),
  digest: Digest,
  size: Schema.Number,
  /** Output name, or the basename of an external file. */
  name: Schema.String,
  files: Schema.optional(Schema.Array(FileEntry))
})
export type ArtifactRef = typeof ArtifactRef.Type

/** Scalar metrics a stage reports. */
export const Metrics = Schema.Record(Schema.String, Schema.Union([Schema.Number, Schema.String]))

/** The stage record, `stages/<key>.json`: written after every output object, so it is the commit point. */
export const StageRecord = Schema.Struct({
  key: Key,
  manifest: KeyManifest,
  outputs: Schema.Record(Schema.String, ArtifactRef),
  metrics: Metrics,
  durationMs: Schema.Number,
  createdAt: Schema.String
})
export type StageRecord = typeof StageRecord.Type

/** How a stage instance ended in a run. */
export const StageStatus = Schema.Literals(["pending", "running", "hit", "ran", "failed", "skipped", "interrupted"])
export type StageStatus = typeof StageStatus.Type

/** One stage instance as a run saw it. */
export const RunStage = Schema.Struct({
  id: Schema.String,
  stage: Schema.String,
  status: StageStatus,
  key: Schema.optional(Key),
  manifest: Schema.optional(KeyManifest),
  inputs: Schema.optional(Schema.Record(Schema.String, Schema.NullOr(ArtifactRef))),
  outputs: Schema.optional(Schema.Record(Schema.String, ArtifactRef)),
  metrics: Schema.optional(Metrics),
  durationMs: Schema.optional(Schema.Number),
  error: Schema.optional(Schema.String)
})
export type RunStage = typeof RunStage.Type

/** An external file or directory the run hashed. */
export const RunExternal = Schema.Struct({ id: Schema.String, path: Schema.String, artifact: ArtifactRef })
export type RunExternal = typeof RunExternal.Type

/** The process that ran a run: while it lives, the run is in progress; once it is gone, a "running" run was interrupted. */
export const RunOwner = Schema.Struct({ pid: Schema.Number, host: Schema.String })
export type RunOwner = typeof RunOwner.Type

/**
 * The run record, `runs/<runId>.json`: written when the run starts, when each stage starts and
 * commits, and when it ends.
 */
export const RunRecord = Schema.Struct({
  id: Schema.String,
  /** Absent in records written before owners were recorded. */
  owner: Schema.optional(RunOwner),
  pipeline: Schema.Struct({ name: Schema.String, file: Schema.String }),
  seed: Schema.Number,
  sanity: Schema.Boolean,
  overrides: Schema.Array(Schema.String),
  force: Schema.Array(Schema.String),
  status: Schema.Literals(["running", "succeeded", "failed", "interrupted"]),
  startedAt: Schema.String,
  finishedAt: Schema.optional(Schema.String),
  durationMs: Schema.optional(Schema.Number),
  external: Schema.Array(RunExternal),
  stages: Schema.Array(RunStage),
  /** Warning signs in the stages' telemetry, in the order they were seen (absent in older records). */
  warnings: Schema.optional(Schema.Array(Warning)),
  /** What the run found damaged in the store and did about it (quarantined, recomputed, discarded). */
  repairs: Schema.optional(Schema.Array(Schema.String)),
  error: Schema.optional(Schema.String)
})
export type RunRecord = typeof RunRecord.Type
