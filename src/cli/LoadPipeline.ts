/**
 * Loads a pipeline file (TypeScript, compiled with its stages into one cached module by Bundle.js)
 * and builds its graph. Any failure becomes one PipelineLoadError with the best location we can
 * find: esbuild's `file:line:col` for code that does not compile, the first stack frame in a user
 * file (source-mapped back to the .ts file) for throws.
 */
import { existsSync } from "node:fs"
import { dirname, relative, resolve, sep } from "node:path"
import { Effect, Schema } from "effect"
import { buildGraph } from "../Pipeline.ts"
import type { Pipeline, PipelineGraph } from "../Pipeline.ts"
import { bundle, buildMessage, changedSinceBundled, runBundle, sourceMapped } from "./Bundle.js"
import { engineDir, publishSharedModules } from "./SharedModules.ts"

/** The pipeline file could not be loaded or does not describe a valid DAG. */
export class PipelineLoadError extends Schema.TaggedError<PipelineLoadError>()("PipelineLoadError", {
  location: Schema.String,
  message: Schema.String
}) {}

const shown = (path: string): string => {
  const rel = relative(process.cwd(), path)
  return rel.startsWith("..") ? path : rel
}

const userFrame = /\(?((?:file:\/\/)?\/[^():]+):(\d+):(\d+)\)?$/

/** The engine's own sources: a frame there is where an error was raised, not the user's mistake. */
const engineRoot = engineDir + sep

/** `file:line:col` of the first stack frame outside node internals, node_modules and the engine. */
const locate = (error: unknown, fallback: string): string => {
  const build = buildMessage(error)
  if (build) {
    const at = build.location
    return at ? `${shown(resolve(at.file))}:${at.line}:${at.column + 1}` : shown(fallback)
  }
  const stack = error instanceof Error ? sourceMapped(error.stack ?? "") : ""
  for (const line of stack.split("\n").slice(1)) {
    const match = userFrame.exec(line.trim())
    if (!match || match[1]!.includes("/node_modules/")) continue
    const file = match[1]!.replace(/^file:\/\//, "")
    if (file.startsWith(engineRoot)) continue
    return `${shown(file)}:${match[2]}:${match[3]}`
  }
  return shown(fallback)
}

const messageOf = (error: unknown): string =>
  buildMessage(error)?.text ?? (error instanceof Error ? error.message : String(error))

/** A loaded pipeline: its graph, and which of its source files changed since its code was loaded. */
export interface LoadedPipeline {
  readonly file: string
  readonly graph: PipelineGraph
  readonly changedSinceLoad: () => string | undefined
}

const isPipeline = (value: unknown): value is Pipeline =>
  typeof value === "object" && value !== null && (value as { _tag?: unknown })._tag === "Pipeline"

/**
 * Compiles `file` and its stages (or reuses the cached bundle), runs it and builds its graph, with
 * named inputs at `paths` (absolute) instead of their default paths.
 */
export const loadPipeline = (file: string, paths?: ReadonlyMap<string, string>): Effect.Effect<LoadedPipeline, PipelineLoadError> =>
  Effect.gen(function*() {
    const path = resolve(file)
    if (!existsSync(path)) return yield* new PipelineLoadError({ location: shown(path), message: "no such file" })
    const fail = (error: unknown) => new PipelineLoadError({ location: locate(error, path), message: messageOf(error) })
    const bundled = yield* Effect.tryPromise({
      try: () => bundle(path, { shared: publishSharedModules(), engineDir }),
      catch: fail
    })
    const module = yield* Effect.try({ try: () => runBundle(bundled, path) as { default?: unknown }, catch: fail })
    if (!isPipeline(module.default)) {
      return yield* new PipelineLoadError({
        location: shown(path),
        message: "the default export is not a pipeline (export default definePipeline(...))"
      })
    }
    const pipeline = module.default
    const graph = yield* Effect.try({ try: () => buildGraph(pipeline, dirname(path), paths), catch: fail })
    return { file: path, graph, changedSinceLoad: () => changedSinceBundled(bundled) }
  })
