/**
 * Run progress for a terminal: a stage list redrawn in place (cached / running with a progress bar
 * and elapsed time / done with its duration), stage log lines scrolling above it.
 */
import type { Reporter, StageState } from "../runner/Reporter.ts"
import { duration } from "./Format.ts"

interface Row {
  state: StageState
  startedAt?: number
  durationMs?: number
  progress?: { done: number; total: number }
  error?: string
}

const frames = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"]

const bar = (done: number, total: number, width = 20): string => {
  const fraction = total > 0 ? Math.min(1, Math.max(0, done / total)) : 0
  const filled = Math.round(fraction * width)
  return `[${"#".repeat(filled)}${".".repeat(width - filled)}] ${Math.round(fraction * 100)}% ${done}/${total}`
}

/** A live reporter writing ANSI to `stream` (a TTY). Redraws at most every 100 ms. */
export const liveReporter = (stream: NodeJS.WriteStream, color: boolean): Reporter => {
  const paint = (code: string) => (s: string) => (color ? `\x1b[${code}m${s}\x1b[0m` : s)
  const green = paint("32")
  const dim = paint("2")
  const red = paint("31")
  const rows = new Map<string, Row>()
  let drawn = 0
  let tick = 0
  let header = ""
  const render = (): string => {
    const width = Math.max(...[...rows.keys()].map((id) => id.length), 4)
    const lines = [...rows.entries()].map(([id, row]) => {
      const name = id.padEnd(width)
      switch (row.state) {
        case "hit":
          return `  ${green("✓")} ${name}  ${dim("cached")}`
        case "done":
          return `  ${green("✓")} ${name}  done ${duration(row.durationMs)}`
        case "running": {
          const elapsed = duration(Date.now() - (row.startedAt ?? Date.now()))
          const progress = row.progress ? `  ${bar(row.progress.done, row.progress.total)}` : ""
          return `  ${frames[tick % frames.length]} ${name}  running ${elapsed}${progress}`
        }
        case "waiting":
          return `  … ${name}  ${dim("waiting for lock")}`
        case "failed":
          return `  ${red("✗")} ${name}  ${red("failed")}: ${row.error ?? ""}`
        case "skipped":
          return `  - ${name}  ${dim("skipped")}`
        case "interrupted":
          return `  ! ${name}  interrupted`
        case "pending":
          return `    ${dim(name)}`
      }
    })
    return [header, ...lines].join("\n")
  }
  const clear = () => {
    if (drawn > 0) stream.write(`\x1b[${drawn}A\r\x1b[J`)
    drawn = 0
  }
  const draw = () => {
    clear()
    const text = render()
    stream.write(text + "\n")
    drawn = text.split("\n").length
  }
  const timer = setInterval(() => {
    tick += 1
    if ([...rows.values()].some((row) => row.state === "running")) draw()
  }, 100)
  timer.unref()
  return {
    event: (event) => {
      switch (event.type) {
        case "start":
          header = `run ${event.runId}`
          for (const id of event.stages) rows.set(id, { state: "pending" })
          break
        case "state": {
          const row = rows.get(event.id)
          if (!row) return
          row.state = event.state
          if (event.state === "running") row.startedAt = Date.now()
          if (event.durationMs !== undefined) row.durationMs = event.durationMs
          if (event.error !== undefined) row.error = event.error
          break
        }
        case "progress": {
          const row = rows.get(event.id)
          if (row) row.progress = { done: event.done, total: event.total }
          return
        }
        case "log":
          clear()
          stream.write(`[${event.id}] ${event.message}\n`)
          break
      }
      draw()
    },
    close: () => {
      clearInterval(timer)
      draw()
    }
  }
}
