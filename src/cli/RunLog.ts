/**
 * The run's live log, `<runs>/<runId>/log.txt`: the plain reporter's lines, each stamped with the
 * time, written as they come (so `tail -f` follows a run started on a terminal).
 */
import { appendFileSync, mkdirSync } from "node:fs"
import { join } from "node:path"
import type { Reporter } from "../runner/Reporter.ts"
import { plainReporter } from "./PlainReporter.ts"

/** A reporter appending the plain lines of each run it sees start to its log under `runsDir`. */
export const runLogReporter = (runsDir: string): Reporter => {
  let file: string | undefined
  let failed = false
  const lines = plainReporter((line) => {
    if (file === undefined || failed) return
    try {
      appendFileSync(file, `${new Date().toISOString()} ${line}\n`)
    } catch (error) {
      // The log is telemetry: losing it must not fail the run.
      failed = true
      process.stderr.write(`warning: cannot write ${file}: ${error instanceof Error ? error.message : String(error)}\n`)
    }
  })
  return {
    event: (event) => {
      if (event.type === "start") {
        const dir = join(runsDir, event.runId)
        mkdirSync(dir, { recursive: true })
        file = join(dir, "log.txt")
      }
      lines.event(event)
    },
    close: () => lines.close()
  }
}
