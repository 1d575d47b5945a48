/**
 * Data stages at scale: load → template → tokenize → pack through the engine give byte-identical
 * outputs (the same digests) for batch sizes of 1k, 10k and 100k rows and for 1, 2 and 4 workers,
 * on a seeded synthetic dataset of several stored batches (multi-turn, system prompts, tool calls);
 * and load's pieces of JSON Lines give the rows and reports of reading the file whole.
 */
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Effect, Schema } from "effect"
import { afterAll, describe, expect, it } from "vitest"
import { defineStage, StreamedTable } from "../../src/index.ts"
import { scanDataset } from "../../stages/formats/readDataset.ts"
import type { LoadedRow } from "../../stages/formats/readDataset.ts"
import { load, LoadConfig, loadDatasets } from "../../stages/load.ts"
import { pack } from "../../stages/pack.ts"
import { renderedSchema } from "../../stages/schemas/rendered.ts"
import { template } from "../../stages/template.ts"
import { tokenize } from "../../stages/tokenize.ts"
import { fixtures } from "../support/fixtures.ts"
import { writeSyntheticChats } from "../support/syntheticChats.ts"
import { runStages } from "./runStages.ts"

const qwen3 = `${fixtures}/tokenizers/qwen3`
const dir = mkdtempSync(join(tmpdir(), "scale-invariance-"))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const outputs = [["load", "train"], ["load", "validation"], ["template", "rendered"], ["tokenize", "tokens"], ["pack", "packed"]] as const

/** Reports the run options a stage is given, so the test knows they reach the stages it compares. */
const runOptions = defineStage({
  name: "runOptions",
  module: import.meta.url,
  reads: [],
  config: Schema.Struct({}),
  inputs: { rows: StreamedTable(renderedSchema) },
  outputs: {},
  run: (ctx) => Effect.succeed({ outputs: {}, metrics: { workers: ctx.workers, batchSize: ctx.batchSize } })
})

const digests = async (data: string, workers: number, batchSize: number) => {
  const run = await runStages({ name: "scale", file: join(import.meta.dirname, "scale_invariance.test.ts"), workers, batchSize }, (p) => {
    const loaded = p.add(load, { inputs: { train: p.file(data) }, config: { validationFraction: 0.05 } })
    const rendered = p.add(template, { inputs: { conversations: loaded.train, tokenizer: p.dir(qwen3) } })
    const tokens = p.add(tokenize, { inputs: { rows: rendered.rendered, tokenizer: p.file(`${qwen3}/tokenizer.json`) }, config: { maxSeqLength: 1024 } })
    p.add(pack, { inputs: { tokens: tokens.tokens }, config: { maxSeqLength: 1024 } })
    p.add(runOptions, { inputs: { rows: rendered.rendered } })
  })
  for (const [id] of outputs) expect(run.stage(id).status, `${id}: ${run.stage(id).error}`).toBe("ran")
  expect(run.stage("runOptions").metrics).toEqual({ workers, batchSize })
  return {
    digests: Object.fromEntries(outputs.map(([id, output]) => [`${id}.${output}`, run.digest(id, output)])),
    metrics: Object.fromEntries(outputs.map(([id]) => [id, run.stage(id).metrics])),
    rows: run.table("pack", "packed").numRows,
    batches: run.table("tokenize", "tokens").batches.length
  }
}

describe("data stages: outputs do not depend on the batch size or the worker count", () => {
  it("gives the same digests for batch sizes 1k, 10k, 100k and 1, 2, 4 workers", async () => {
    const data = join(dir, "chats.jsonl")
    const written = await writeSyntheticChats(data, 7, { rows: 2600 })
    const reference = await digests(data, 1, 100_000)
    // Several stored batches, so batches and chunks really cut the rows differently: 1k cuts the
    // 2470 train rows into three chunks across the stored batches of 1024; 10k and 100k each hold
    // them in one chunk (they differ only on more rows than this test tokenizes).
    expect(reference.batches).toBeGreaterThanOrEqual(2)
    expect(reference.metrics.load).toMatchObject({ rowsRead: written.rows, rowsTrain: 2470, rowsValidation: 130 })
    expect(reference.rows).toBeGreaterThan(0)
    for (const [workers, batchSize] of [[1, 1000], [1, 10_000], [2, 1000], [4, 1000]] as const) {
      const other = await digests(data, workers, batchSize)
      expect(other.digests, `${workers} workers, batch size ${batchSize}`).toEqual(reference.digests)
      expect(other.metrics, `${workers} workers, batch size ${batchSize}`).toEqual(reference.metrics)
    }
  }, 600_000)
})

describe("load: JSON Lines read in pieces", () => {
  const lines = [
    "\ufeff" + JSON.stringify({ messages: [{ role: "user", content: "a" }, { role: "assistant", content: "b" }] }),
    "",
    "   ",
    JSON.stringify({ messages: [{ role: "user", content: "\ufeffstarts with a BOM" }, { role: "assistant", content: "ok" }] }) + "\r",
    "{ not json",
    JSON.stringify({ messages: [{ role: "user", content: "é".repeat(300) }, { role: "assistant", content: "long line" }] }),
    JSON.stringify({ messages: [{ role: "user", content: "no answer" }] }),
    // Not at the file's start, a BOM is a character: JSON.parse refuses it, in one piece or many.
    "\ufeff" + JSON.stringify({ messages: [{ role: "user", content: "c" }, { role: "assistant", content: "d" }] })
  ]
  const encoder = new TextEncoder()
  // An invalid byte inside a line, and a file that does not end with a newline.
  const bytes = Buffer.concat([
    Buffer.from(encoder.encode(lines.join("\n") + "\n")),
    Buffer.from([0x7b, 0xff, 0x7d, 0x0a]),
    Buffer.from(JSON.stringify({ messages: [{ role: "user", content: "last" }, { role: "assistant", content: "row" }] }))
  ])
  const options = Schema.decodeUnknownSync(LoadConfig)({})
  const scan = (chunkBytes: number | undefined) => {
    const rows: Array<LoadedRow> = []
    return Effect.runPromise(
      scanDataset({ name: "p.jsonl", bytes }, options, (piece) => Effect.sync(() => void rows.push(...piece)), chunkBytes).pipe(
        Effect.map((summary) => ({ ...summary, rows }))
      )
    )
  }

  it("gives the rows, locations, counts and reports of one piece, for pieces of 1, 7, 64 bytes", async () => {
    const whole = await scan(undefined)
    expect(whole.rows.map((row) => row.source)).toEqual(["p.jsonl:1", "p.jsonl:4", "p.jsonl:6", "p.jsonl:10"])
    expect(whole.rows[1]!.conversation.messages[0]!.content).toBe("\ufeffstarts with a BOM")
    expect(whole.reports.map((report) => `${report.location} ${report.kind}`)).toEqual([
      "p.jsonl:5 invalid_json",
      `p.jsonl:7 ${whole.reports[1]!.kind}`,
      "p.jsonl:8 invalid_json",
      "p.jsonl:9 invalid_utf8"
    ])
    expect(whole.blankLines).toBe(2)
    for (const chunkBytes of [1, 7, 64]) expect(await scan(chunkBytes), `pieces of ${chunkBytes} bytes`).toEqual(whole)
  })

  it("takes a piece of more rows and reports than a spread call takes arguments", async () => {
    // A 4 MiB piece holds 131k rows of 32 bytes; the invalid file is one piece of 300k reports.
    const small = new TextEncoder().encode(`${JSON.stringify({ prompt: "a", completion: "b" })}\n`.repeat(200_000))
    const loaded = await Effect.runPromise(loadDatasets({ train: { name: "small.jsonl", bytes: small } }, options, 1))
    expect(loaded.train.length).toBe(200_000)
    const invalid = new TextEncoder().encode("x\n".repeat(300_000))
    const skipped = await Effect.runPromise(Effect.flip(
      loadDatasets({ train: { name: "x.jsonl", bytes: invalid } }, { ...options, format: "prompt_completion", onInvalid: "skip" }, 1)
    ))
    expect(skipped.message).toBe("x.jsonl: no valid rows left for training (300000 read, 300000 invalid)")
  })
})
