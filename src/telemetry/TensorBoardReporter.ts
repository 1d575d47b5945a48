/**
 * Writes a run's telemetry as TensorBoard event files, one folder per stage instance that reports
 * scalars, `<runs>/<runId>/<stage>/` (TensorBoard shows each as a run named `<runId>/<stage>`,
 * so two stages that report the same tag do not mix): every scalar the stage reports keyed by its
 * global step, the run's config as text (tag `config`) and each warning sign as text
 * (`warnings/<kind>`) at its step. `tensorboard --logdir <store>/runs` shows every run.
 *
 * A stage's event file is made when its first scalars arrive, so a run that computed no stage with
 * step telemetry (a fully cached one) has none, and does not load the protobuf code at all.
 */
import { mkdirSync } from "node:fs"
import { join } from "node:path"
import type { Reporter, RunEvent } from "../runner/Reporter.ts"
import type { Value } from "./Event.ts"
import type { EventWriter } from "./EventFile.ts"
import { formatWarning } from "./Warning.ts"

/** What the config text says about the run besides its stages' configs. */
export interface RunDescription {
  readonly pipeline: string
  readonly file: string
  readonly seed: number
  readonly sanity: boolean
  readonly overrides: ReadonlyArray<string>
}

/** The run's config as markdown: one line about the run, then each stage's config as a code block. */
export const configMarkdown = (run: RunDescription, configs: Readonly<Record<string, unknown>>): string => {
  const overrides = run.overrides.length === 0 ? "" : ` · --set ${run.overrides.join(" ")}`
  const head = `pipeline **${run.pipeline}** (${run.file}) · seed ${run.seed}${run.sanity ? " · sanity" : ""}${overrides}`
  const stages = Object.entries(configs).map(([id, config]) => {
    const body = JSON.stringify(config, null, 2).split("\n").map((line) => `    ${line}`).join("\n")
    return `**${id}**\n\n${body}`
  })
  return [head, ...stages].join("\n\n")
}

type Pending = { readonly step: number; readonly wallTime: number; readonly values: ReadonlyArray<Value> }

/** One stage's event file, opened once the writer module has loaded (an import is asynchronous). */
interface StageFile {
  writer?: EventWriter
  readonly pending: Array<Pending>
}

/** A reporter writing the event files of each run it sees start, under `runsDir`. */
export const tensorBoardReporter = (runsDir: string, run: RunDescription): Reporter => {
  let runDir: string | undefined
  let config = ""
  let closed = false
  let failed = false
  const files = new Map<string, StageFile>()
  // Telemetry must not fail a run: the first error is reported once and writing stops.
  const fail = (error: unknown) => {
    if (failed) return
    failed = true
    for (const file of files.values()) file.pending.length = 0
    process.stderr.write(`warning: no TensorBoard events for this run from here on: ${error instanceof Error ? error.message : String(error)}\n`)
  }
  const write = (stage: string, event: Pending) => {
    if (runDir === undefined) return
    const existing = files.get(stage)
    if (existing !== undefined) {
      if (existing.writer !== undefined) existing.writer.write(event)
      else existing.pending.push(event)
      return
    }
    const file: StageFile = { pending: [event] }
    files.set(stage, file)
    const dir = join(runDir, stage)
    mkdirSync(dir, { recursive: true })
    import("./EventFile.ts").then((module) => {
      if (failed) return
      const writer = module.openEventFile(dir)
      writer.write({ wallTime: Date.now() / 1000, step: 0, values: [{ tag: "config", text: config }] })
      for (const queued of file.pending.splice(0)) writer.write(queued)
      if (closed) writer.close()
      else file.writer = writer
    }).catch(fail)
  }
  const handle = (event: RunEvent) => {
    switch (event.type) {
      case "start":
        runDir = join(runsDir, event.runId)
        config = configMarkdown(run, event.configs)
        return
      case "scalars":
        write(event.id, {
          step: event.step,
          wallTime: Date.now() / 1000,
          values: Object.entries(event.values).map(([tag, scalar]) => ({ tag, scalar }))
        })
        return
      case "warning":
        write(event.warning.stage, {
          step: event.warning.step,
          wallTime: Date.now() / 1000,
          values: [{ tag: `warnings/${event.warning.kind}`, text: formatWarning(event.warning) }]
        })
        return
      default:
        return
    }
  }
  return {
    event: (event) => {
      if (failed) return
      try {
        handle(event)
      } catch (error) {
        fail(error)
      }
    },
    close: () => {
      closed = true
      for (const file of files.values()) file.writer?.close()
    }
  }
}
