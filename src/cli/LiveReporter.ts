/**
 * Run progress for a terminal: a stage list redrawn in place (cached / running with a progress bar,
 * elapsed time and ETA / done with its duration); under a stage that reports scalars, its latest
 * loss, eval loss, learning rate, grad norm, tokens/s and memory. Stage log lines, a line of scalars
 * at each logged step and warning signs scroll above the list.
 */
import type { Reporter, StageState } from "../runner/Reporter.ts"
import { formatWarning } from "../telemetry/Warning.ts"
import { duration } from "./Format.ts"
import { scalarsText, StageTelemetry } from "./StepLine.ts"

interface Row {
  state: StageState
  startedAt?: number
  durationMs?: number
  progress?: { done: number; total: number }
  error?: string
  telemetry?: StageTelemetry
  warnings: number
}

const frames = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"]

const bar = (done: number, total: number, width = 20): string => {
  const fraction = total > 0 ? Math.min(1, Math.max(0, done / total)) : 0
  const filled = Math.round(fraction * width)
  return `[${"#".repeat(filled)}${".".repeat(width - filled)}] ${Math.round(fraction * 100)}% ${done}/${total}`
}

// Escape sequences take no columns: they are left out when counting how many rows a line wraps to.
const escapes = /\x1b\[[0-9;]*[A-Za-z]/g

/** A live reporter writing ANSI to `stream` (a TTY). Redraws at most every 100 ms. */
export const liveReporter = (stream: NodeJS.WriteStream, color: boolean): Reporter => {
  const paint = (code: string) => (s: string) => (color ? `\x1b[${code}m${s}\x1b[0m` : s)
  const green = paint("32")
  const dim = paint("2")
  const red = paint("31")
  const yellow = paint("33")
  const rows = new Map<string, Row>()
  let configs: Readonly<Record<string, unknown>> = {}
  let drawn = 0
  let tick = 0
  let header = ""
  const render = (): Array<string> => {
    const width = Math.max(...[...rows.keys()].map((id) => id.length), 4)
    const lines = [header]
    for (const [id, row] of rows) {
      const name = id.padEnd(width)
      switch (row.state) {
        case "hit":
          lines.push(`  ${green("✓")} ${name}  ${dim("cached")}`)
          break
        case "done":
          lines.push(`  ${green("✓")} ${name}  done ${duration(row.durationMs)}`)
          break
        case "running": {
          const elapsed = duration(Date.now() - (row.startedAt ?? Date.now()))
          const progress = row.progress ? `  ${bar(row.progress.done, row.progress.total)}` : ""
          const eta = row.telemetry?.eta()
          lines.push(`  ${frames[tick % frames.length]} ${name}  running ${elapsed}${progress}${eta === undefined ? "" : `  ETA ${duration(eta)}`}`)
          if (row.telemetry !== undefined) {
            const warned = row.warnings === 0 ? "" : `  ${yellow(`⚠ ${row.warnings} warning${row.warnings === 1 ? "" : "s"}`)}`
            lines.push(`    ${" ".repeat(width)}  ${scalarsText(row.telemetry.latest)}${warned}`)
          }
          break
        }
        case "waiting":
          lines.push(`  … ${name}  ${dim("waiting for lock")}`)
          break
        case "failed":
          lines.push(`  ${red("✗")} ${name}  ${red("failed")}: ${row.error ?? ""}`)
          break
        case "skipped":
          lines.push(`  - ${name}  ${dim("skipped")}`)
          break
        case "interrupted":
          lines.push(`  ! ${name}  interrupted`)
          break
        case "pending":
          lines.push(`    ${dim(name)}`)
          break
      }
    }
    return lines
  }
  const clear = () => {
    if (drawn > 0) stream.write(`\x1b[${drawn}A\r\x1b[J`)
    drawn = 0
  }
  const draw = () => {
    clear()
    const lines = render()
    stream.write(lines.join("\n") + "\n")
    const columns = stream.columns > 0 ? stream.columns : 80
    drawn = lines.reduce((n, line) => n + Math.max(1, Math.ceil(line.replace(escapes, "").length / columns)), 0)
  }
  /** Writes a line above the stage list (it scrolls away with the terminal). */
  const scroll = (line: string) => {
    clear()
    stream.write(line + "\n")
  }
  const timer = setInterval(() => {
    tick += 1
    if ([...rows.values()].some((row) => row.state === "running")) draw()
  }, 100)
  timer.unref()
  const flush = (id: string) => {
    const line = rows.get(id)?.telemetry?.takeLine()
    if (line !== undefined) scroll(`[${id}] ${line}`)
  }
  return {
    event: (event) => {
      switch (event.type) {
        case "start":
          header = `run ${event.runId}`
          configs = event.configs
          for (const id of event.stages) rows.set(id, { state: "pending", warnings: 0 })
          break
        case "state": {
          const row = rows.get(event.id)
          if (!row) return
          flush(event.id)
          row.state = event.state
          if (event.state === "running") row.startedAt = Date.now()
          if (event.durationMs !== undefined) row.durationMs = event.durationMs
          if (event.error !== undefined) row.error = event.error
          break
        }
        case "progress": {
          const row = rows.get(event.id)
          if (!row) return
          row.progress = { done: event.done, total: event.total }
          row.telemetry?.progress(event.done, event.total)
          flush(event.id)
          break
        }
        case "scalars": {
          const row = rows.get(event.id)
          if (!row) return
          flush(event.id)
          row.telemetry ??= new StageTelemetry(configs[event.id])
          if (row.progress) row.telemetry.progress(row.progress.done, row.progress.total)
          row.telemetry.observe(event.step, event.values)
          return
        }
        case "warning": {
          const row = rows.get(event.warning.stage)
          if (row) row.warnings += 1
          flush(event.warning.stage)
          scroll(yellow(`⚠ ${formatWarning(event.warning)}`))
          break
        }
        case "log":
          flush(event.id)
          scroll(`[${event.id}] ${event.message}`)
          break
      }
      draw()
    },
    close: () => {
      clearInterval(timer)
      for (const id of rows.keys()) flush(id)
      draw()
    }
  }
}
