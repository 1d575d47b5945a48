/**
 * Artifact kinds a stage declares for its inputs and outputs, and the values a stage sees for each.
 *
 * Specs are plain data (no arrow import at run time) so loading a pipeline stays cheap; the runner
 * encodes and decodes artifacts lazily.
 */
import type * as arrow from "apache-arrow"

/** An Arrow table with a declared schema, stored as Arrow IPC (file format). */
export interface TableSpec<T extends arrow.TypeMap = any> {
  readonly kind: "table"
  readonly schema: arrow.Schema<T>
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
  : S extends TableSpec<infer T> ? arrow.Table<T>
  : S extends BlobSpec ? BlobRef
  : S extends FilesSpec ? FilesRef
  : never

/** The value `run` returns for an output of the given spec. Paths must lie under `ctx.tmpDir`. */
export type OutputValue<S extends ArtifactSpec> = S extends TableSpec<infer T> ? arrow.Table<T>
  : S extends BlobSpec ? Uint8Array | { readonly path: string }
  : S extends FilesSpec ? { readonly dir: string }
  : never
