/**
 * Artifact kinds a stage declares for its inputs and outputs, and the values a stage sees for each.
 *
 * Specs are plain data (no arrow import at run time) so loading a pipeline stays cheap; the runner
 * encodes and decodes artifacts lazily.
 */
import type * as arrow from "apache-arrow"
import type { TableReader } from "./TableReader.ts"
import type { TableFile } from "./TableWriter.ts"

/** An Arrow table with a declared schema, stored as Arrow IPC (file format). */
export interface TableSpec<T extends arrow.TypeMap = any> {
  readonly kind: "table"
  readonly schema: arrow.Schema<T>
  /**
   * The stage reads it (an input) batch by batch through a `TableReader`, or writes it (an output)
   * with a `TableWriter`, instead of holding it as one table.
   */
  readonly streamed?: boolean
}

/** A table read or written batch by batch. */
export interface StreamedTableSpec<T extends arrow.TypeMap = any> extends TableSpec<T> {
  readonly streamed: true
}

/** A single file. */
export interface BlobSpec {
  readonly kind: "blob"
}

/** A directory tree. */
export interface FilesSpec {
  readonly kind: "files"
}

/** The kinds an artifact can have. */
export type ArtifactSpec = TableSpec | BlobSpec | FilesSpec

/** An input that may be left unwired; its value is then `undefined`. */
export interface OptionalSpec<S extends ArtifactSpec = ArtifactSpec> {
  readonly kind: "optional"
  readonly inner: S
}

/** What a stage may declare as an input. */
export type InputSpec = ArtifactSpec | OptionalSpec

/** The artifact an input carries: an optional input's inner spec. */
export const specOf = (spec: InputSpec): ArtifactSpec => (spec.kind === "optional" ? spec.inner : spec)

/** Declares a table artifact; the engine checks produced tables against `schema` (names, types, nullability). */
export const Table = <T extends arrow.TypeMap>(schema: arrow.Schema<T>): TableSpec<T> => ({ kind: "table", schema })

/**
 * Declares a table the stage reads batch by batch (an input: a `TableReader`) or writes batch by
 * batch (an output: a `TableWriter`'s file), so its memory does not grow with the table. It wires
 * like `Table(schema)`, and the stored file is the same kind of Arrow IPC file.
 */
export const StreamedTable = <T extends arrow.TypeMap>(schema: arrow.Schema<T>): StreamedTableSpec<T> => ({
  kind: "table",
  schema,
  streamed: true
})

/** Declares a single-file artifact. */
export const Blob = (): BlobSpec => ({ kind: "blob" })

/** Declares a directory-tree artifact. */
export const Files = (): FilesSpec => ({ kind: "files" })

/** Marks an input as optional. */
export const Optional = <S extends ArtifactSpec>(inner: S): OptionalSpec<S> => ({ kind: "optional", inner })

/** A blob as a stage reads it: a read-only file inside the store. */
export interface BlobRef {
  readonly path: string
  readonly size: number
  readonly digest: string
  /** The original file name for external files, else the output name. */
  readonly name: string
}

/** One file of a directory tree artifact, `path` relative to the tree's root (always `/`-separated). */
export interface FileEntry {
  readonly path: string
  readonly size: number
  readonly digest: string
}

/** A directory tree as a stage reads it: a read-only materialised directory. */
export interface FilesRef {
  readonly dir: string
  readonly files: ReadonlyArray<FileEntry>
}

/** The value a stage receives for an input (and `inspect` for an output) of the given spec. */
export type InputValue<S extends InputSpec> = S extends OptionalSpec<infer Inner> ? InputValue<Inner> | undefined
  : S extends StreamedTableSpec<infer T> ? TableReader<T>
  : S extends TableSpec<infer T> ? arrow.Table<T>
  : S extends BlobSpec ? BlobRef
  : S extends FilesSpec ? FilesRef
  : never

/**
 * The value `run` returns for an output of the given spec: a streamed table is written by a
 * `TableWriter`, a table is returned in memory. Paths must lie under `ctx.tmpDir`.
 */
export type OutputValue<S extends ArtifactSpec> = S extends StreamedTableSpec<infer T> ? TableFile<T>
  : S extends TableSpec<infer T> ? arrow.Table<T>
  : S extends BlobSpec ? Uint8Array | { readonly path: string }
  : S extends FilesSpec ? { readonly dir: string }
  : never
