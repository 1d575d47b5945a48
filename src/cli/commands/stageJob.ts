/**
 * `pipeline stage-job <file> --stage ID --key KEY …`: what a job of a job executor runs (see
 * runner/Executor.ts). It configures the pipeline exactly as its driver did (the same --set,
 * --seed, --sanity, --workers, --batch-size and store flags: PipelineSettings.ts), computes the one stage instance against the shared store,
 * after checking its key is the driver's, and commits its record there. What the stage reports
 * goes to `--events` for the driver to replay, and as plain lines to stdout (the job's output file).
 */
import { Effect } from "effect"
import { local } from "../../runner/Executor.ts"
import { jobEventWriter } from "../../runner/JobEvents.ts"
import type { Reporter } from "../../runner/Reporter.ts"
import { runPipeline } from "../../runner/Runner.ts"
import { loadConfigured, settingOptions } from "../PipelineSettings.ts"
import type { PipelineSettings } from "../PipelineSettings.ts"
import { plainReporter } from "../PlainReporter.ts"

export interface StageJobArgs extends PipelineSettings {
  readonly stage: string
  readonly key: string
  /** Whether the driver forces this instance. */
  readonly force: boolean
  /** Where the stage's log, progress and scalars go for the driver (runner/JobEvents.ts). */
  readonly events: string
}

export const stageJob = (args: StageJobArgs) =>
  Effect.gen(function*() {
    const { file, graph, changedSinceLoad, overrides } = yield* loadConfigured(args)
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
      ...settingOptions(args),
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
