/** The file through which a stage in a job reports to its driver (src/runner/JobEvents.ts). */
import { mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Option } from "effect"
import { afterAll, expect, it } from "vitest"
import { jobEventWriter, parseJobEvent } from "../../src/runner/JobEvents.ts"

const dir = mkdtempSync(join(tmpdir(), "job-events-"))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

it("carries the job's stage's log, progress and scalars, nothing of other stages and no states, line by line", () => {
  const file = join(dir, "train.events.jsonl")
  const writer = jobEventWriter(file, "train")
  writer.event({ type: "state", id: "train", state: "running" })
  writer.event({ type: "log", id: "tokenize", message: "not ours" })
  writer.event({ type: "log", id: "train", message: "resuming from step 4" })
  writer.event({ type: "progress", id: "train", done: 3, total: 10 })
  writer.event({ type: "scalars", id: "train", step: 3, values: { loss: 2.5, learning_rate: 5e-5 } })
  const lines = readFileSync(file, "utf8").trimEnd().split("\n")
  expect(lines.map((line) => Option.getOrThrow(parseJobEvent(line)))).toEqual([
    { type: "log", message: "resuming from step 4" },
    { type: "progress", done: 3, total: 10 },
    { type: "scalars", step: 3, values: { loss: 2.5, learning_rate: 5e-5 } }
  ])
})

it("reads a line that is not an event as none", () => {
  for (const line of ["", "{", "plain text", '{"type":"state","id":"x"}', '{"type":"scalars","step":1,"values":{"loss":"high"}}']) {
    expect(Option.isNone(parseJobEvent(line)), line).toBe(true)
  }
})
