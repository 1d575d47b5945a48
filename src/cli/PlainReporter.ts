/**
 * Run progress as plain lines, for logs and pipes: one line per stage state change, no progress bars.
 */
import type { Reporter } from "../runner/Reporter.ts"
import { duration } from "./Format.ts"

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
export const plainReporter = (write: (line: string) => void): Reporter => ({
  event: (event) => {
    switch (event.type) {
      case "start":
        write(`run ${event.runId}: ${event.stages.length} stages`)
        return
      case "state": {
        if (event.state === "waiting") return
        const detail = event.state === "done"
          ? ` ${duration(event.durationMs)}`
          : event.state === "failed" || event.state === "skipped"
          ? `: ${event.error ?? ""}`
          : ""
        write(`  ${labels[event.state].padEnd(11)} ${event.id}${detail}`)
        return
      }
      case "progress":
        return
      case "log":
        write(`  [${event.id}] ${event.message}`)
        return
    }
  },
  close: () => undefined
})
