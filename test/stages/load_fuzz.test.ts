/**
 * Nothing is dropped silently, whatever the input: for seeded random corruptions of real rows,
 * every row read is either loaded or rejected with at least one report at its own location, and
 * reading never throws.
 */
import { fixtures } from "../support/fixtures.ts"
import { Effect, Random } from "effect"
import { readFileSync } from "node:fs"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import type { DatasetOptions } from "../../stages/formats/readDataset.ts"
import { readDataset } from "../../stages/formats/readDataset.ts"

const options: DatasetOptions = { format: "auto", replace: {}, promptField: "prompt", completionField: "completion" }

const junk: ReadonlyArray<unknown> = [null, 0, -1.5, true, "", "assitant", [], {}, [1, "x"], { role: "user" }, "{not json"]

/** Replaces one randomly chosen value anywhere in `value` by junk, or deletes an object key. */
const mutate = (value: unknown): Effect.Effect<unknown> =>
  Effect.gen(function*() {
    const pick = yield* Random.nextIntBetween(0, 9)
    if (pick === 0 || value === null || typeof value !== "object") return junk[yield* Random.nextIntBetween(0, junk.length - 1)]
    if (Array.isArray(value)) {
      if (value.length === 0) return value
      const index = yield* Random.nextIntBetween(0, value.length - 1)
      const copy = [...value]
      copy[index] = yield* mutate(copy[index])
      return copy
    }
    const keys = Object.keys(value)
    if (keys.length === 0) return value
    const key = keys[yield* Random.nextIntBetween(0, keys.length - 1)]!
    const copy: Record<string, unknown> = { ...(value as Record<string, unknown>) }
    if (pick === 1) delete copy[key]
    else copy[key] = yield* mutate(copy[key])
    return copy
  })

/** With one row per line (JSONL) every location names one row, so the check can be exact. */
const checkAccounting = (bytes: Uint8Array, name: string, onePerLine: boolean) =>
  Effect.gen(function*() {
    const read = yield* readDataset(bytes, name, options)
    expect(read.rows.length + read.rowsInvalid).toBe(read.rowsRead)
    const reported = new Set(read.reports.map((report) => report.location))
    if (onePerLine) {
      expect(reported.size).toBe(read.rowsInvalid)
      for (const row of read.rows) expect(reported.has(row.source)).toBe(false)
    } else {
      expect(reported.size).toBeLessThanOrEqual(read.rowsInvalid)
      expect(read.reports.length).toBeGreaterThanOrEqual(read.rowsInvalid)
    }
    return read
  })

const sources = [
  ["messages.jsonl", join(import.meta.dirname, "fixtures", "messages.jsonl")],
  ["glaive.jsonl", `${fixtures}/datasets/llama-factory/glaive_toolcall_en_demo.json`],
  ["identity.jsonl", `${fixtures}/datasets/llama-factory/identity.json`]
] as const

describe("load: seeded corruption of real rows", () => {
  it.each(sources)("%s: every row is loaded or reported at its line", async (name, path) => {
    const text = readFileSync(path, "utf8")
    const rows = text.trimStart().startsWith("[")
      ? (JSON.parse(text) as Array<unknown>).slice(0, 40)
      : text.split("\n").filter((line) => line !== "").map((line) => JSON.parse(line) as unknown)
    await Effect.runPromise(
      Effect.gen(function*() {
        for (let round = 0; round < 25; round++) {
          // the first row stays intact so the format is detected the same way every round
          const lines = [JSON.stringify(rows[0])]
          for (const row of rows.slice(1)) lines.push(JSON.stringify(yield* mutate(row)) ?? "null")
          const read = yield* checkAccounting(new TextEncoder().encode(lines.join("\n")), name, true)
          expect(read.rowsRead).toBe(rows.length)
        }
      }).pipe(Random.withSeed(name))
    )
  })

  it("a JSON array with random characters deleted or inserted never throws and accounts for every element it finds", async () => {
    const text = readFileSync(join(import.meta.dirname, "fixtures", "messages.jsonl"), "utf8")
    const array = `[\n${text.trim().split("\n").join(",\n")}\n]\n`
    await Effect.runPromise(
      Effect.gen(function*() {
        for (let round = 0; round < 200; round++) {
          const at = yield* Random.nextIntBetween(1, array.length - 2)
          const insert = "{}[],\"\\: x"[yield* Random.nextIntBetween(0, 9)]!
          const corrupted = (yield* Random.nextBoolean)
            ? array.slice(0, at) + array.slice(at + 1)
            : array.slice(0, at) + insert + array.slice(at)
          const read = yield* Effect.result(checkAccounting(new TextEncoder().encode(corrupted), "rows.json", false))
          if (read._tag === "Failure") expect(read.failure._tag).toBe("DatasetError")
        }
      }).pipe(Random.withSeed("json-array"))
    )
  })
})
