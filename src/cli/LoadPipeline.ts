/**
 * Loads a pipeline file (TypeScript, through the tsx loader that bin/pipeline.js registers) and
 * builds its graph. Any failure becomes one PipelineLoadError with the best location we can find:
 * esbuild's `file:line:col` for syntax errors, the first stack frame in a user file for throws.
 */
import { existsSync } from "node:fs"
import { dirname, relative, resolve, sep } from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"
import { Effect, Schema } from "effect"
import { buildGraph } from "../Pipeline.ts"
import type { Pipeline, PipelineGraph } from "../Pipeline.ts"

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
const engineRoot = dirname(dirname(fileURLToPath(import.meta.url))) + sep

/** `file:line:col` of the first stack frame outside node internals, node_modules and the engine. */
const locate = (error: unknown, fallback: string): string => {
  const stack = error instanceof Error ? error.stack ?? "" : ""
  const transform = /^(\/.+?):(\d+):(\d+): ERROR: /m.exec(error instanceof Error ? error.message : "")
  if (transform) return `${shown(transform[1]!)}:${transform[2]}:${Number(transform[3]) + 1}`
  for (const line of stack.split("\n").slice(1)) {
    const match = userFrame.exec(line.trim())
    if (!match || match[1]!.includes("/node_modules/")) continue
    const file = match[1]!.replace(/^file:\/\//, "")
    if (file.startsWith(engineRoot)) continue
    return `${shown(file)}:${match[2]}:${match[3]}`
  }
  const bare = /^(\/[^\n:]+):(\d+)\n/.exec(stack)
  if (bare) return `${shown(bare[1]!)}:${bare[2]}`
  return shown(fallback)
}

const messageOf = (error: unknown): string => {
  if (!(error instanceof Error)) return String(error)
  const transform = /: ERROR: (.*)$/m.exec(error.message)
  if (transform) return transform[1]!
  if ((error as NodeJS.ErrnoException).code === "ERR_REQUIRE_CYCLE_MODULE") {
    return "the file is loaded as CommonJS: put it in a package whose package.json has \"type\": \"module\""
  }
  return error.message
}

const isPipeline = (value: unknown): value is Pipeline =>
  typeof value === "object" && value !== null && (value as { _tag?: unknown })._tag === "Pipeline"

/** Imports `file` and builds its graph. */
export const loadPipeline = (file: string): Effect.Effect<{ file: string; graph: PipelineGraph }, PipelineLoadError> =>
  Effect.gen(function*() {
    const path = resolve(file)
    if (!existsSync(path)) return yield* new PipelineLoadError({ location: shown(path), message: "no such file" })
    const module = yield* Effect.tryPromise({
      try: () => import(pathToFileURL(path).href) as Promise<{ default?: unknown }>,
      catch: (error) => new PipelineLoadError({ location: locate(error, path), message: messageOf(error) })
    })
    if (!isPipeline(module.default)) {
      return yield* new PipelineLoadError({
        location: shown(path),
        message: "the default export is not a pipeline (export default definePipeline(...))"
      })
    }
    const pipeline = module.default
    const graph = yield* Effect.try({
      try: () => buildGraph(pipeline, dirname(path)),
      catch: (error) => new PipelineLoadError({ location: locate(error, path), message: messageOf(error) })
    })
    return { file: path, graph }
  })
