/**
 * Run progress as plain lines, for logs and pipes: one line per stage state change, a line of
 * scalars at the steps a stage logs (see StepLine.ts), every warning sign; no progress bars.
 */
import type { Reporter } from "../runner/Reporter.ts"
import { formatWarning } from "../telemetry/Warning.ts"
import { duration } from "./Format.ts"
import { StageTelemetry } from "./StepLine.ts"

const labels = {
  hit: "cached",
  waiting: "waiting",
  running: "running",
  done: "done",
  failed: "FAILED",
  skipped: "skipped",
  interrupted: "interrupted",
  pending: "pending"
} as const

/** Writes one line per event to `write`. */
export const plainReporter = (write: (line: string) => void): Reporter => {
  let configs: Readonly<Record<string, unknown>> = {}
  const telemetry = new Map<string, StageTelemetry>()
  const flush = (id: string) => {
    const line = telemetry.get(id)?.takeLine()
    if (line !== undefined) write(`  [${id}] ${line}`)
  }
  return {
    event: (event) => {
      switch (event.type) {
        case "start":
          configs = event.configs
          write(`run ${event.runId}: ${event.stages.length} stages`)
          return
        case "state": {
          flush(event.id)
          if (event.state === "waiting") return
          const detail = event.state === "done"
            ? ` ${duration(event.durationMs)}`
            : event.state === "failed" || event.state === "skipped"
            ? `: ${event.error ?? ""}`
            : ""
          write(`  ${labels[event.state].padEnd(11)} ${event.id}${detail}`)
          return
        }
        case "progress": {
          const stage = telemetry.get(event.id)
          stage?.progress(event.done, event.total)
          flush(event.id)
          return
        }
        case "scalars": {
          flush(event.id)
          let stage = telemetry.get(event.id)
          if (stage === undefined) telemetry.set(event.id, stage = new StageTelemetry(configs[event.id]))
          stage.observe(event.step, event.values)
          return
        }
        case "warning":
          flush(event.warning.stage)
          write(`  WARNING ${formatWarning(event.warning)}`)
          return
        case "log":
          flush(event.id)
          write(`  [${event.id}] ${event.message}`)
          return
      }
    },
    close: () => {
      for (const id of telemetry.keys()) flush(id)
    }
  }
}
