/**
 * Code digests are taken afresh by every run: a stage file edited between two runs in one process
 * (a library user, a test) makes the second run recompute that stage.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { pathToFileURL } from "node:url"
import * as NodeServices from "@effect/platform-node/NodeServices"
import * as arrow from "apache-arrow"
import { Effect, Layer, Schema } from "effect"
import { afterAll, expect, it } from "vitest"
import { definePipeline, defineStage, Table, tableFrom, tableSchema } from "../../src/index.ts"
import { buildGraph } from "../../src/Pipeline.ts"
import { runPipeline } from "../../src/runner/Runner.ts"
import { layerMemory } from "../../src/store/MemoryStore.ts"

const dir = mkdtempSync(join(tmpdir(), "code-digest-test-"))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const module = join(dir, "stage.ts")
const numbers = tableSchema({ n: new arrow.Int32() })
const stage = defineStage({
  name: "numbers",
  module: pathToFileURL(module).href,
  config: Schema.Struct({}),
  inputs: {},
  outputs: { numbers: Table(numbers) },
  run: () => Effect.sync(() => ({ outputs: { numbers: tableFrom(numbers, { n: [1, 2, 3] }) } }))
})
const pipeline = definePipeline({ name: "edited" }, (p) => {
  p.add(stage, { inputs: {} })
})
const run = runPipeline({
  file: "inline.ts",
  graph: buildGraph(pipeline, "/"),
  overrides: [],
  sanity: false,
  force: [],
  reporter: { event: () => undefined, close: () => undefined }
}).pipe(Effect.map((record) => record.stages[0]!.status))

it("recomputes a stage whose file was edited between two runs of one process", async () => {
  writeFileSync(module, "export const version = 1\n")
  const statuses = await Effect.runPromise(Effect.scoped(Effect.gen(function*() {
    const first = yield* run
    const unchanged = yield* run
    writeFileSync(module, "export const version = 2\n")
    const edited = yield* run
    return [first, unchanged, edited]
  }).pipe(Effect.provide(layerMemory.pipe(Layer.provide(NodeServices.layer))))))
  expect(statuses).toEqual(["ran", "hit", "ran"])
})
