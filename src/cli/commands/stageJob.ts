/**
 * `pipeline stage-job <file> --stage ID --key KEY …`: what a job of a job executor runs (see
 * runner/Executor.ts). It configures the pipeline exactly as its driver did (the same --set,
 * --seed, --sanity and store flags), computes the one stage instance against the shared store,
 * after checking its key is the driver's, and commits its record there. What the stage reports
 * goes to `--events` for the driver to replay, and as plain lines to stdout (the job's output file).
 */
import { resolve } from "node:path"
import { Effect } from "effect"
import { parseOverride } from "../../runner/Config.ts"
import { local } from "../../runner/Executor.ts"
import { jobEventWriter } from "../../runner/JobEvents.ts"
import type { Reporter } from "../../runner/Reporter.ts"
import { runPipeline } from "../../runner/Runner.ts"
import { loadPipeline } from "../LoadPipeline.ts"
import { plainReporter } from "../PlainReporter.ts"

export interface StageJobArgs {
  readonly file: string
  readonly stage: string
  readonly key: string
  readonly set: ReadonlyArray<string>
  readonly seed: number | undefined
  readonly sanity: boolean
  /** Whether the driver forces this instance. */
  readonly force: boolean
  /** Where the stage's log, progress and scalars go for the driver (runner/JobEvents.ts). */
  readonly events: string
}

export const stageJob = (args: StageJobArgs) =>
  Effect.gen(function*() {
    const overrides = yield* Effect.forEach(args.set, parseOverride)
    const paths = new Map(overrides.flatMap((o) => o.path.join(".") === "path" && typeof o.value === "string" ? [[o.instance, resolve(o.value)]] : []))
    const { file, graph, changedSinceLoad } = yield* loadPipeline(args.file, paths)
    // The job's run is not recorded (its driver's is), so its id is not worth a line.
    const plain = plainReporter((line) => process.stdout.write(line + "\n"))
    const events = jobEventWriter(args.events, args.stage)
    const jobReporter: Reporter = {
      event: (event) => {
        events.event(event)
        if (event.type !== "start") plain.event(event)
      },
      close: plain.close
    }
    const record = yield* runPipeline({
      file,
      graph,
      changedSinceLoad,
      overrides,
      ...(args.seed === undefined ? {} : { seed: args.seed }),
      sanity: args.sanity,
      force: args.force ? [args.stage] : [],
      reporter: jobReporter,
      executor: local,
      only: { id: args.stage, key: args.key }
    })
    if (record.status !== "succeeded") {
      process.stderr.write(`error: ${record.error ?? record.status}\n`)
      process.exitCode = 1
    }
  })
