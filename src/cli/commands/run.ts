/** `pipeline run <file>`: runs a pipeline, reusing every committed stage whose key is unchanged. */
import { Effect } from "effect"
import { runPipeline } from "../../runner/Runner.ts"
import { parseOverride } from "../../runner/Config.ts"
import { duration } from "../Format.ts"
import { liveReporter } from "../LiveReporter.ts"
import { loadPipeline } from "../LoadPipeline.ts"
import { plainReporter } from "../PlainReporter.ts"

export interface RunArgs {
  readonly file: string
  readonly set: ReadonlyArray<string>
  readonly seed: number | undefined
  readonly sanity: boolean
  readonly force: ReadonlyArray<string>
}

export const run = (args: RunArgs) =>
  Effect.gen(function*() {
    const { file, graph, changedSinceLoad } = yield* loadPipeline(args.file)
    const overrides = yield* Effect.forEach(args.set, parseOverride)
    const reporter = process.stdout.isTTY
      ? liveReporter(process.stdout, process.env.NO_COLOR === undefined)
      : plainReporter((line) => process.stdout.write(line + "\n"))
    const record = yield* runPipeline({
      file,
      graph,
      changedSinceLoad,
      overrides,
      ...(args.seed === undefined ? {} : { seed: args.seed }),
      sanity: args.sanity,
      force: args.force,
      reporter
    })
    const hits = record.stages.filter((stage) => stage.status === "hit").length
    const ran = record.stages.filter((stage) => stage.status === "ran").length
    process.stdout.write(
      `${record.status} in ${duration(record.durationMs)}: ${record.stages.length} stages, ${hits} cached, ${ran} ran (run ${record.id})\n`
    )
    if (record.status !== "succeeded") {
      process.stderr.write(`error: ${record.error ?? record.status}\n`)
      process.exitCode = 1
    }
  })
