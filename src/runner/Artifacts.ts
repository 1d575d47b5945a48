/**
 * Moving artifacts between stages and the store: encoding what `run` returns into store objects and
 * refs, decoding refs into what a stage reads, and checking that a ref's objects are all present.
 *
 * apache-arrow is imported lazily: a fully cached run never decodes a table.
 */
import { copyFile, link, mkdir, readdir, stat } from "node:fs/promises"
import { dirname, join, relative, resolve, sep } from "node:path"
import { Effect, Schema } from "effect"
import type { Scope } from "effect"
import { specOf } from "../Artifact.ts"
import type { ArtifactSpec, BlobRef, FilesRef, InputSpec } from "../Artifact.ts"
import { canonicalJson } from "../key/Canonical.ts"
import { schemaMismatch } from "../SchemaMismatch.ts"
import { TableReader } from "../TableReader.ts"
import { isTableFile } from "../TableWriter.ts"
import type { Digest } from "../store/Digest.ts"
import { CorruptObject, MissingObject, Store, StoreError } from "../store/Store.ts"
import type { ArtifactRef, FileEntry } from "./Records.ts"

/** A stage produced an output that does not match its declaration. */
export class OutputMismatch extends Schema.TaggedError<OutputMismatch>()("OutputMismatch", {
  output: Schema.String,
  message: Schema.String
}) {}

const arrowModule = () => import("apache-arrow")

const fsError = (method: string, key: string) => (cause: unknown) =>
  new StoreError({ method, key, message: cause instanceof Error ? cause.message : String(cause), cause })

/** Every object an artifact consists of (a directory's listing and each of its files). */
export const objectsOf = (ref: ArtifactRef): Array<{ digest: Digest; size: number }> => [
  { digest: ref.digest, size: ref.size },
  ...(ref.files ?? []).map((file) => ({ digest: file.digest, size: file.size }))
]

/** An artifact a stage reads, or a cache hit would return, lost an object or has a corrupt one. */
export class DamagedArtifact extends Schema.TaggedError<DamagedArtifact>()("DamagedArtifact", {
  /** The input or output name. */
  name: Schema.String,
  digest: Schema.String,
  message: Schema.String
}) {}

const damaged = (name: string) => (error: StoreError | CorruptObject | MissingObject) =>
  error._tag === "StoreError" ? error : new DamagedArtifact({ name, digest: error.digest, message: error.message })

/**
 * Checks that every object of the named refs is still what was written, re-hashing only files whose
 * stat changed since they were last hashed (a corrupt one is quarantined): what a cache hit costs.
 */
export const checkArtifacts = (
  refs: Readonly<Record<string, ArtifactRef>>
): Effect.Effect<void, StoreError | DamagedArtifact, Store> =>
  Effect.gen(function*() {
    const store = yield* Store
    for (const [name, ref] of Object.entries(refs)) {
      for (const object of objectsOf(ref)) yield* store.checkObject(object).pipe(Effect.mapError(damaged(name)))
    }
  })

const byName = (a: { name: string }, b: { name: string }) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)

/**
 * The regular files under `root`, as sorted "/"-separated relative paths. With `followLinks` a
 * symbolic link counts as what it points to (a Hugging Face snapshot is a tree of links);
 * without, a link is refused like any other entry that is neither a file nor a directory.
 */
export const listTree = async (root: string, followLinks: boolean): Promise<Array<string>> => {
  const out: Array<string> = []
  const visit = async (rel: string): Promise<void> => {
    const dir = rel === "" ? root : join(root, ...rel.split("/"))
    const entries = (await readdir(dir, { withFileTypes: true })).sort(byName)
    for (const entry of entries) {
      const child = rel === "" ? entry.name : `${rel}/${entry.name}`
      const kind = followLinks && entry.isSymbolicLink() ? await stat(join(dir, entry.name)) : entry
      if (kind.isDirectory()) await visit(child)
      else if (kind.isFile()) out.push(child)
      else throw new Error(`${join(dir, entry.name)}: only regular files and directories can be stored`)
    }
  }
  await visit("")
  return out
}

/** Stores the canonical listing of a tree (sorted by path) and returns the tree's ref. */
export const putListing = (
  entries: ReadonlyArray<FileEntry>,
  name: string
): Effect.Effect<ArtifactRef, StoreError, Store> =>
  Effect.gen(function*() {
    const store = yield* Store
    const files = [...entries].sort((a, b) => byName({ name: a.path }, { name: b.path }))
    const listing = yield* store.putBytes(new TextEncoder().encode(canonicalJson({ files })))
    return { kind: "files", digest: listing.digest, size: listing.size, name, files }
  })

/**
 * Stores a directory tree: every file as an object, plus a canonical listing whose digest names the
 * tree. `move` renames files into the store (for a stage's scratch output) instead of copying them.
 */
const putTree = (dir: string, name: string, move: boolean): Effect.Effect<ArtifactRef, StoreError, Store> =>
  Effect.gen(function*() {
    const store = yield* Store
    const paths = yield* Effect.tryPromise({ try: () => listTree(dir, false), catch: fsError("putTree", dir) })
    const files: Array<FileEntry> = []
    for (const path of paths) {
      const ref = yield* store.putFile(join(dir, ...path.split("/")), { move })
      files.push({ path, size: ref.size, digest: ref.digest })
    }
    return yield* putListing(files, name)
  })

const isInside = (path: string, dir: string): boolean => {
  const rel = relative(dir, resolve(path))
  return rel !== "" && !rel.startsWith("..") && !rel.startsWith(sep) && !/^[A-Za-z]:/.test(rel)
}

/** Encodes one output value into the store, checking it against its declaration. */
export const putOutput = (
  name: string,
  spec: ArtifactSpec,
  value: unknown,
  tmpDir: string
): Effect.Effect<ArtifactRef, StoreError | OutputMismatch, Store> =>
  Effect.gen(function*() {
    const store = yield* Store
    const mismatch = (message: string) => new OutputMismatch({ output: name, message })
    switch (spec.kind) {
      case "table": {
        if (isTableFile(value)) {
          const problem = schemaMismatch(spec.schema, value.schema)
          if (problem !== undefined) return yield* mismatch(problem)
          if (!isInside(value.path, tmpDir)) return yield* mismatch(`${value.path} is not under ctx.tmpDir`)
          const ref = yield* store.putFile(resolve(value.path), { move: true })
          return { kind: "table", digest: ref.digest, size: ref.size, name }
        }
        const arrow = yield* Effect.promise(arrowModule)
        if (!arrow.isArrowTable(value)) return yield* mismatch("expected an arrow Table or a TableFile")
        const problem = schemaMismatch(spec.schema, value.schema)
        if (problem !== undefined) return yield* mismatch(problem)
        const ref = yield* store.putBytes(arrow.tableToIPC(value, "file"))
        return { kind: "table", digest: ref.digest, size: ref.size, name }
      }
      case "blob": {
        if (value instanceof Uint8Array) {
          const ref = yield* store.putBytes(value)
          return { kind: "blob", digest: ref.digest, size: ref.size, name }
        }
        const path = (value as { path?: unknown } | undefined)?.path
        if (typeof path !== "string") return yield* mismatch("expected a Uint8Array or { path }")
        if (!isInside(path, tmpDir)) return yield* mismatch(`${path} is not under ctx.tmpDir`)
        const ref = yield* store.putFile(resolve(path), { move: true })
        return { kind: "blob", digest: ref.digest, size: ref.size, name }
      }
      case "files": {
        const dir = (value as { dir?: unknown } | undefined)?.dir
        if (typeof dir !== "string") return yield* mismatch("expected { dir }")
        if (!isInside(dir, tmpDir)) return yield* mismatch(`${dir} is not under ctx.tmpDir`)
        return yield* putTree(resolve(dir), name, true)
      }
    }
  })

/** The same error, its message prefixed with the tree file it is about. */
const naming = (file: string) => (error: StoreError | CorruptObject | MissingObject) => {
  switch (error._tag) {
    case "StoreError":
      return error
    case "CorruptObject":
      return new CorruptObject({ digest: error.digest, message: `${file}: ${error.message}` })
    case "MissingObject":
      return new MissingObject({ digest: error.digest, message: `${file}: ${error.message}` })
  }
}

/**
 * Hard-links a tree's objects into a fresh scoped directory (copying across devices), each file
 * re-hashed first. The links are read-only like the objects they point to.
 */
const materialise = (ref: ArtifactRef): Effect.Effect<FilesRef, StoreError | CorruptObject | MissingObject, Store | Scope.Scope> =>
  Effect.gen(function*() {
    const store = yield* Store
    const dir = yield* store.makeTmpDir
    yield* store.verifyObject({ digest: ref.digest, size: ref.size })
    const files = ref.files ?? []
    for (const file of files) {
      const target = join(dir, ...file.path.split("/"))
      if (!isInside(target, dir)) {
        return yield* new StoreError({ method: "materialise", key: file.path, message: "path escapes its tree" })
      }
      const object = { digest: file.digest, size: file.size }
      yield* store.verifyObject(object).pipe(Effect.mapError(naming(file.path)))
      const source = store.objectPath(object.digest)
      yield* Effect.tryPromise({
        try: async () => {
          await mkdir(dirname(target), { recursive: true })
          await link(source, target).catch(async (error: NodeJS.ErrnoException) => {
            if (error.code !== "EXDEV" && error.code !== "EPERM") throw error
            await copyFile(source, target)
          })
        },
        catch: fsError("materialise", file.path)
      })
    }
    return { dir, files: files.map((file) => ({ path: file.path, size: file.size, digest: file.digest })) }
  })

/**
 * Decodes a stored artifact into the value a stage reads for `spec`, every byte verified: a table
 * is hashed in memory, a streamed table, a blob and each file of a tree in one streaming pass
 * before the stage gets its reader or path.
 */
export const readArtifact = (
  spec: InputSpec,
  ref: ArtifactRef | null | undefined
): Effect.Effect<unknown, StoreError | CorruptObject | MissingObject, Store | Scope.Scope> =>
  Effect.gen(function*() {
    if (ref === null || ref === undefined) return undefined
    const store = yield* Store
    const artifact = specOf(spec)
    switch (artifact.kind) {
      case "table": {
        if (artifact.streamed === true) {
          // Hashed in one streaming pass first, as a blob is: the reader then reads verified bytes.
          const object = { digest: ref.digest, size: ref.size }
          yield* store.verifyObject(object)
          const path = store.objectPath(object.digest)
          return yield* Effect.tryPromise({
            try: () => TableReader.open(path),
            catch: (cause) => new CorruptObject({ digest: ref.digest, message: cause instanceof Error ? cause.message : String(cause) })
          })
        }
        const bytes = yield* store.readBytes({ digest: ref.digest, size: ref.size })
        const arrow = yield* Effect.promise(arrowModule)
        return arrow.tableFromIPC(bytes)
      }
      case "blob": {
        const object = { digest: ref.digest, size: ref.size }
        yield* store.verifyObject(object)
        const blob: BlobRef = { path: store.objectPath(object.digest), size: ref.size, digest: ref.digest, name: ref.name }
        return blob
      }
      case "files":
        return yield* materialise(ref)
    }
  })

/** Decodes every artifact named in `specs` (a stage's inputs, or its outputs) from `refs`. */
export const readArtifacts = (
  specs: Readonly<Record<string, InputSpec>>,
  refs: Readonly<Record<string, ArtifactRef | null>> | undefined
): Effect.Effect<Record<string, unknown>, StoreError | DamagedArtifact, Store | Scope.Scope> =>
  Effect.gen(function*() {
    const values: Record<string, unknown> = {}
    for (const [name, spec] of Object.entries(specs)) {
      values[name] = yield* readArtifact(spec, refs?.[name] ?? null).pipe(Effect.mapError(damaged(name)))
    }
    return values
  })
