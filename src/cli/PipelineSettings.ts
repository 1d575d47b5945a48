/**
 * The flags that configure a pipeline, read the same way by `pipeline run` and by each job of
 * `--executor slurm` (`pipeline stage-job`), so a job computes its stage exactly as its driver would.
 */
import { resolve } from "node:path"
import { Effect } from "effect"
import { parseOverride } from "../runner/Config.ts"
import { loadPipeline } from "./LoadPipeline.ts"

export interface PipelineSettings {
  readonly file: string
  readonly set: ReadonlyArray<string>
  readonly seed: number | undefined
  readonly sanity: boolean
  readonly workers: number | undefined
  readonly batchSize: number | undefined
}

/** The pipeline of `--set`'s overrides, loaded with the named inputs' paths they give. */
export const loadConfigured = (settings: PipelineSettings) =>
  Effect.gen(function*() {
    const overrides = yield* Effect.forEach(settings.set, parseOverride)
    // Candidates for named inputs' paths; the graph takes those that name one of its inputs.
    const paths = new Map(overrides.flatMap((o) => o.path.join(".") === "path" && typeof o.value === "string" ? [[o.instance, resolve(o.value)]] : []))
    const { file, graph, changedSinceLoad } = yield* loadPipeline(settings.file, paths)
    return { file, graph, changedSinceLoad, overrides }
  })

/** runPipeline's options for the settings that are flags (the rest are each command's own). */
export const settingOptions = (settings: PipelineSettings) => ({
  ...(settings.seed === undefined ? {} : { seed: settings.seed }),
  sanity: settings.sanity,
  ...(settings.workers === undefined ? {} : { workers: settings.workers }),
  ...(settings.batchSize === undefined ? {} : { batchSize: settings.batchSize })
})

/** The same settings as flags (the file aside), for a job to repeat. */
export const settingFlags = (settings: PipelineSettings): ReadonlyArray<string> => [
  ...settings.set.flatMap((set) => ["--set", set]),
  ...(settings.seed === undefined ? [] : ["--seed", String(settings.seed)]),
  ...(settings.sanity ? ["--sanity"] : []),
  ...(settings.workers === undefined ? [] : ["--workers", String(settings.workers)]),
  ...(settings.batchSize === undefined ? [] : ["--batch-size", String(settings.batchSize)])
]
