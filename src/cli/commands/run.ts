/**
 * `pipeline run <file>`: runs a pipeline, reusing every committed stage whose key is unchanged.
 * Progress goes to the terminal (a live view on a TTY, plain lines otherwise) and to the run's
 * telemetry folder `<store>/runs/<runId>/` (log.txt, TensorBoard event files). Ctrl-C stops the
 * run and says how to resume it.
 */
import { join, resolve } from "node:path"
import { Effect, Option } from "effect"
import { stageNodes } from "../../Pipeline.ts"
import type { PipelineGraph } from "../../Pipeline.ts"
import { shellWord } from "../../ShellWord.ts"
import type { AnyStage } from "../../Stage.ts"
import type { RunRecord } from "../../runner/Records.ts"
import { local } from "../../runner/Executor.ts"
import { runPipeline } from "../../runner/Runner.ts"
import { slurmExecutor } from "../../runner/SlurmExecutor.ts"
import type { Reporter } from "../../runner/Reporter.ts"
import { Store } from "../../store/Store.ts"
import { tensorBoardReporter } from "../../telemetry/TensorBoardReporter.ts"
import { duration } from "../Format.ts"
import { liveReporter } from "../LiveReporter.ts"
import { stageView } from "./inspect.ts"
import { plainReporter } from "../PlainReporter.ts"
import { loadConfigured, settingFlags, settingOptions } from "../PipelineSettings.ts"
import type { PipelineSettings } from "../PipelineSettings.ts"
import { readRun } from "../RunRef.ts"
import { runLogReporter } from "../RunLog.ts"

export interface RunArgs extends PipelineSettings {
  readonly force: ReadonlyArray<string>
  /** The --store flag as given, repeated in the resume command. */
  readonly store: string | undefined
  /** The --cache flag as given, repeated in the resume command. */
  readonly cache: string | undefined
  /** Where stages are computed. */
  readonly executor: "local" | "slurm"
  /** How long a Slurm job may stay pending before the run gives up on it. */
  readonly pendingTimeoutS: number
}

/** Every reporter receives every event. */
const allOf = (reporters: ReadonlyArray<Reporter>): Reporter => ({
  event: (event) => reporters.forEach((reporter) => reporter.event(event)),
  close: () => reporters.forEach((reporter) => reporter.close())
})


/** The flags a job repeats so that it configures the pipeline exactly as its driver did. */
const sharedFlags = (args: RunArgs): ReadonlyArray<string> => [
  ...settingFlags(args),
  ...(args.store === undefined ? [] : ["--store", args.store]),
  ...(args.cache === undefined ? [] : ["--cache", args.cache])
]

/** Each stage as a Slurm job running `pipeline stage-job` in this directory, logs beside the run record. */
const slurm = (args: RunArgs, file: string, runsDir: string) =>
  slurmExecutor({
    command: (job, eventsFile) => [
      process.execPath,
      resolve(process.argv[1]!),
      "stage-job",
      file,
      "--stage",
      job.id,
      "--key",
      job.key,
      "--events",
      eventsFile,
      ...(job.forced ? ["--force"] : []),
      ...sharedFlags(args)
    ],
    logDir: runsDir,
    cwd: process.cwd(),
    pendingTimeoutMs: args.pendingTimeoutS * 1000
  })

/**
 * What to tell a person whose run was interrupted: what the next run reuses and the command that
 * resumes it (`--force` only for forced stages that did not commit, or they would run again).
 */
const resumeHint = (args: RunArgs, runId: string) =>
  Effect.gen(function*() {
    const store = yield* Store
    const run = yield* readRun(runId)
    const committed = run.stages.filter((stage) => stage.status === "hit" || stage.status === "ran")
    const resumes: Array<string> = []
    for (const stage of run.stages) {
      if (stage.status !== "interrupted" || stage.key === undefined) continue
      const { checkpoint } = yield* store.latestCheckpoint(stage.key)
      resumes.push(Option.isSome(checkpoint)
        ? `${stage.id} resumes from its checkpoint of step ${checkpoint.value.step}`
        : `${stage.id} starts again (it saved no checkpoint)`)
    }
    const command = [
      "pipeline run", shellWord(args.file),
      ...settingFlags(args).map(shellWord),
      ...args.force.filter((id) => !committed.some((stage) => stage.id === id)).flatMap((id) => ["--force", shellWord(id)]),
      ...(args.store === undefined ? [] : ["--store", shellWord(args.store)]),
      ...(args.cache === undefined ? [] : ["--cache", shellWord(args.cache)])
    ].join(" ")
    const reused = `${committed.length} of ${run.stages.length} stages are committed and will be cached`
    process.stderr.write(`interrupted (run ${runId}): ${[reused, ...resumes].join("; ")}\nresume with: ${command}\n`)
  }).pipe(Effect.ignore)

export const run = (args: RunArgs) =>
  Effect.gen(function*() {
    const store = yield* Store
    const { file, graph, changedSinceLoad, overrides } = yield* loadConfigured(args)
    const runsDir = join(store.root, "runs")
    let runId: string | undefined
    const reporter = allOf([
      { event: (event) => event.type === "start" && (runId = event.runId), close: () => undefined },
      process.stdout.isTTY
        ? liveReporter(process.stdout, process.env.NO_COLOR === undefined)
        : plainReporter((line) => process.stdout.write(line + "\n")),
      runLogReporter(runsDir),
      tensorBoardReporter(runsDir, {
        pipeline: graph.name,
        file,
        seed: args.seed ?? graph.seed,
        sanity: args.sanity,
        overrides: args.set
      })
    ])
    const record = yield* runPipeline({
      file,
      graph,
      changedSinceLoad,
      overrides,
      ...settingOptions(args),
      force: args.force,
      reporter,
      executor: args.executor === "slurm" ? slurm(args, file, runsDir) : local
    }).pipe(Effect.onInterrupt(() => (runId === undefined ? Effect.void : resumeHint(args, runId))))
    const hits = record.stages.filter((stage) => stage.status === "hit").length
    const ran = record.stages.filter((stage) => stage.status === "ran").length
    const warnings = record.warnings?.length ?? 0
    process.stdout.write(
      `${record.status} in ${duration(record.durationMs)}: ${record.stages.length} stages, ${hits} cached, ${ran} ran` +
        `${warnings === 0 ? "" : `, ${warnings} warning${warnings === 1 ? "" : "s"}`} (run ${record.id})\n`
    )
    if (record.status !== "succeeded") {
      process.stderr.write(`error: ${record.error ?? record.status}\n`)
      process.exitCode = 1
    } else if (args.sanity) {
      yield* sanityReport(graph, record)
    }
  })

/**
 * The end of a `--sanity` run: each stage's own view of what it made, two rows each (decoded
 * examples with their masks, the loss trajectory and its verdict, generated answers), so a person
 * reads what a full run would train on before paying for it.
 */
const sanityReport = (graph: PipelineGraph, record: RunRecord) =>
  Effect.gen(function*() {
    const out = ["", "SANITY CHECK: what each stage made (pipeline inspect <run> <stage> shows more)"]
    for (const node of stageNodes(graph)) {
      const entry = record.stages.find((stage) => stage.id === node.id)
      if (node.stage.inspect === undefined || entry?.outputs === undefined) continue
      const view = yield* stageView(node.stage as AnyStage, entry, 2)
      out.push("", `── ${node.id} ──`, view.trimEnd())
    }
    process.stdout.write(out.join("\n") + "\n")
  })
