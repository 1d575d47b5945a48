/**
 * The engine's public API: stages, pipelines, artifact kinds and the stage error.
 * The engine knows nothing about LLMs; `stages/` builds the SFT library on top of this.
 */
export { Blob, Files, Optional, StreamedTable, Table } from "./Artifact.ts"
export type {
  ArtifactSpec,
  BlobRef,
  BlobSpec,
  FileEntry,
  FilesRef,
  FilesSpec,
  InputSpec,
  InputValue,
  OptionalSpec,
  OutputValue,
  StreamedTableSpec,
  TableSpec
} from "./Artifact.ts"
export { definePipeline } from "./Pipeline.ts"
export type { AddOptions, Handle, OutputHandles, Pipeline, PipelineBuilder, WiredInputs } from "./Pipeline.ts"
export { defineStage } from "./Stage.ts"
export type {
  AnyStage,
  Checkpoints,
  ConfigSchema,
  InputSpecs,
  InputValues,
  InspectContext,
  OutputSpecs,
  OutputValues,
  RunContext,
  RunResult,
  Stage,
  StageDefinition
} from "./Stage.ts"
export { withDefault } from "./ConfigDefault.ts"
export { StageFailure } from "./StageFailure.ts"
export { TableReader } from "./TableReader.ts"
export { defaultRowsPerBatch, TableWriter } from "./TableWriter.ts"
export type { TableFile } from "./TableWriter.ts"
export { nullable, tableFrom, tableSchema } from "./TableSchema.ts"
export type { Column, ColumnsOf, ColumnsTypeMap, ColumnValues } from "./TableSchema.ts"
