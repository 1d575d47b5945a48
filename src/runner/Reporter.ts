/**
 * What the runner tells the outside world while it works. The CLI turns these events into a live
 * stage list (TTY) or plain lines and the run's telemetry folder; tests can collect them.
 */
import type { Warning } from "../telemetry/Warning.ts"

/** Where a stage instance stands. */
export type StageState = "pending" | "waiting" | "running" | "hit" | "done" | "failed" | "skipped" | "interrupted"

/** One runner event. */
export type RunEvent =
  | {
    readonly type: "start"
    readonly runId: string
    readonly stages: ReadonlyArray<string>
    /** Each stage instance's decoded config (defaults applied, unkeyed fields included), by instance. */
    readonly configs: Readonly<Record<string, unknown>>
  }
  | {
    readonly type: "state"
    readonly id: string
    readonly state: StageState
    readonly key?: string
    readonly durationMs?: number
    readonly error?: string
  }
  | { readonly type: "progress"; readonly id: string; readonly done: number; readonly total: number }
  | { readonly type: "log"; readonly id: string; readonly message: string }
  | {
    readonly type: "scalars"
    readonly id: string
    readonly step: number
    readonly values: Readonly<Record<string, number>>
  }
  | { readonly type: "warning"; readonly warning: Warning }

/** Receives runner events; must not throw. */
export interface Reporter {
  readonly event: (event: RunEvent) => void
  /** Called once when the run ends, to restore the terminal. */
  readonly close: () => void
}
