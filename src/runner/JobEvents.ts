/**
 * What a stage running in a job reports, passed to its driver through a file of JSON lines: its
 * log lines, progress and scalars, so the driver's live view, log and TensorBoard curves are the
 * same as for a stage it ran itself. Stage states are not passed: the driver follows the job.
 */
import { appendFileSync } from "node:fs"
import { Option, Schema } from "effect"
import type { Reporter, RunEvent } from "./Reporter.ts"

/** One line of the file. */
export const JobEvent = Schema.Union([
  Schema.Struct({ type: Schema.Literal("log"), message: Schema.String }),
  Schema.Struct({ type: Schema.Literal("progress"), done: Schema.Number, total: Schema.Number }),
  Schema.Struct({ type: Schema.Literal("scalars"), step: Schema.Number, values: Schema.Record(Schema.String, Schema.Number) })
])

export type JobEvent = typeof JobEvent.Type

const decodeLine = Schema.decodeUnknownOption(Schema.fromJsonString(JobEvent))

/** The event on a line, or none for a line that is not one (a partial write is never handed over: lines are whole). */
export const parseJobEvent = (line: string): Option.Option<JobEvent> => decodeLine(line)

/** A reporter that appends what stage `id` reports to `file`. */
export const jobEventWriter = (file: string, id: string): Reporter => {
  const write = (event: JobEvent) => appendFileSync(file, `${JSON.stringify(event)}\n`)
  return {
    event: (event: RunEvent) => {
      if (event.type === "log" && event.id === id) write({ type: "log", message: event.message })
      else if (event.type === "progress" && event.id === id) write({ type: "progress", done: event.done, total: event.total })
      else if (event.type === "scalars" && event.id === id) write({ type: "scalars", step: event.step, values: event.values })
    },
    close: () => undefined
  }
}
