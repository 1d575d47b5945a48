/**
 * The load stage run by the engine: external files hashed in, tables checked against the declared
 * schema and stored, metrics in the run record, failures as the stage's error.
 */
import { fixtures } from "../support/fixtures.ts"
import * as NodeServices from "@effect/platform-node/NodeServices"
import * as arrow from "apache-arrow"
import { Effect, Layer } from "effect"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import { buildGraph, definePipeline } from "../../src/Pipeline.ts"
import { runPipeline } from "../../src/runner/Runner.ts"
import { layerMemory } from "../../src/store/MemoryStore.ts"
import type { Digest } from "../../src/store/Store.ts"
import { Store } from "../../src/store/Store.ts"
import { load } from "../../stages/load.ts"

const identity = `${fixtures}/datasets/llama-factory/identity.json`
const broken = join(import.meta.dirname, "fixtures", "broken.jsonl")

const runLoad = (path: string, config: Record<string, unknown>) =>
  Effect.gen(function*() {
    const pipeline = definePipeline({ name: "load-test", seed: 3 }, (p) => {
      p.add(load, { inputs: { train: p.file(path) }, config })
    })
    const record = yield* runPipeline({
      file: join(import.meta.dirname, "load_pipeline.test.ts"),
      graph: buildGraph(pipeline, import.meta.dirname),
      overrides: [],
      sanity: false,
      force: [],
      reporter: { event: () => undefined, close: () => undefined }
    })
    const stage = record.stages.find((s) => s.id === "load")!
    const store = yield* Store
    const table = (name: string) =>
      store.readBytes({ digest: stage.outputs![name]!.digest as Digest, size: stage.outputs![name]!.size }).pipe(
        Effect.map((bytes) => arrow.tableFromIPC(bytes))
      )
    return stage.status === "ran"
      ? { stage, train: yield* table("train"), validation: yield* table("validation") }
      : { stage, train: undefined, validation: undefined }
  }).pipe(Effect.provide(layerMemory.pipe(Layer.provide(NodeServices.layer))), Effect.runPromise)

describe("load through the engine", () => {
  it("stores train and validation tables of identity.json with its metrics", async () => {
    const { stage, train, validation } = await runLoad(identity, {
      replace: { "{{name}}": "Ada", "{{author}}": "Lab" },
      validationFraction: 0.1,
      dataSeed: 1
    })
    expect(stage.status).toBe("ran")
    expect(stage.metrics).toMatchObject({ format: "alpaca", rowsRead: 91, rowsSkipped: 0, rowsTrain: 81, rowsValidation: 10 })
    expect(train!.numRows).toBe(81)
    expect(validation!.numRows).toBe(10)
    const rows = [...train!.toArray(), ...validation!.toArray()].map((row) => JSON.parse(JSON.stringify(row)))
    expect(new Set(rows.map((row) => row.source)).size).toBe(91)
    const first = rows.find((row) => row.source === "identity.json:2")
    expect(first.messages).toEqual([
      { role: "user", content: "hi", tool_calls: null, name: null },
      { role: "assistant", content: "Hello! I am Ada, an AI assistant developed by Lab. How can I assist you today?", tool_calls: null, name: null }
    ])
  })

  it("fails the stage with file:line: field: reason for invalid rows", async () => {
    const { stage } = await runLoad(broken, {})
    expect(stage.status).toBe("failed")
    expect(stage.error).toContain('broken.jsonl:7: messages[2].role: "assitant" is not one of system|user|assistant|tool')
  })
})
