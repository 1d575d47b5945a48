import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { readJsonArray } from "../../stages/formats/json.ts"
import type { DatasetOptions } from "../../stages/formats/readDataset.ts"
import { readDataset } from "../../stages/formats/readDataset.ts"

const options: DatasetOptions = { format: "auto", replace: {}, promptField: "prompt", completionField: "completion" }
const chat = JSON.stringify({ messages: [{ role: "user", content: "q" }, { role: "assistant", content: "a" }] })

describe("JSON array locations", () => {
  it("name the line, and the column when the element before started on the same line", () => {
    const text = `[${chat}, {"n": 2},\n  {"n": 3}, oops,\n{"n": 5}]`
    const { rows, reports } = Effect.runSync(readJsonArray({ text, invalid: [] }, "a.json"))
    const column = (needle: string, line: string) => line.indexOf(needle) + 1
    const [first, second] = text.split("\n") as [string, string]
    expect(rows.map((r) => r.location)).toEqual([
      "a.json:1",
      `a.json:1:${column('{"n": 2}', first)}`,
      "a.json:2",
      "a.json:3"
    ])
    expect(reports.map((r) => [r.location, r.kind])).toEqual([[`a.json:2:${column("oops", second)}`, "invalid_json"]])
  })

  it("keep one line per element in a file with an element per line", () => {
    const { rows } = Effect.runSync(readJsonArray({ text: `[\n  ${chat},\n  ${chat}\n]`, invalid: [] }, "b.json"))
    expect(rows.map((r) => r.location)).toEqual(["b.json:2", "b.json:3"])
  })

  it("order the reports of a minified file by line, then column", async () => {
    const text = `[${chat}, {"messages": 5}, nope, ${chat},\n{"messages": 7}]`
    const read = await Effect.runPromise(readDataset(new TextEncoder().encode(text), "c.json", options))
    const line = text.split("\n")[0]!
    expect(read.rows.map((r) => r.source)).toEqual(["c.json:1", `c.json:1:${line.lastIndexOf(chat) + 1}`])
    expect(read.reports.map((r) => [r.location, r.kind])).toEqual([
      [`c.json:1:${line.indexOf('{"messages": 5}') + 1}`, "wrong_type"],
      [`c.json:1:${line.indexOf("nope") + 1}`, "invalid_json"],
      ["c.json:2", "wrong_type"]
    ])
  })
})
