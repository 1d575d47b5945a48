/**
 * Code digests are taken afresh by every run: a stage file edited between two runs in one process
 * (a library user, a test) makes the second run recompute that stage, and so does a new installed
 * version of a package its code imports (directly or through a local module).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { pathToFileURL } from "node:url"
import * as NodeServices from "@effect/platform-node/NodeServices"
import * as arrow from "apache-arrow"
import { Effect, Layer, Schema } from "effect"
import { afterAll, expect, it } from "vitest"
import { definePipeline, defineStage, Table, tableFrom, tableSchema } from "../../src/index.ts"
import { buildGraph } from "../../src/Pipeline.ts"
import { explainManifests, formatReason } from "../../src/runner/Explain.ts"
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

it("keys a stage by the installed version of every package its code imports, and only such stages", async () => {
  const project = join(dir, "packages")
  const write = (path: string, text: string) => {
    mkdirSync(dirname(join(project, path)), { recursive: true })
    writeFileSync(join(project, path), text)
  }
  write("package.json", JSON.stringify({ name: "project", type: "module" }))
  write("node_modules/tokenlib/package.json", JSON.stringify({ name: "tokenlib", version: "1.0.0" }))
  write("node_modules/@scope/tool/package.json", JSON.stringify({ name: "@scope/tool", version: "2.0.0" }))
  write("stages/direct.ts", 'import { encode } from "tokenlib"\nimport { readFileSync } from "node:fs"\nexport { encode, readFileSync }\n')
  write("stages/transitive.ts", 'import { helper } from "./helper.ts"\nexport { helper }\n')
  write("stages/helper.ts", 'import type { Tool } from "@scope/tool/types"\nimport "tokenlib/extra"\nexport const helper = 1 as unknown as Tool\n')
  write("stages/none.ts", "export const none = 1\n")
  const stageAt = (name: string) =>
    defineStage({
      name,
      module: pathToFileURL(join(project, "stages", `${name}.ts`)).href,
      config: Schema.Struct({}),
      inputs: {},
      outputs: { numbers: Table(numbers) },
      run: () => Effect.sync(() => ({ outputs: { numbers: tableFrom(numbers, { n: [name.length] }) } }))
    })
  const graph = buildGraph(definePipeline({ name: "packages" }, (p) => {
    for (const name of ["direct", "transitive", "none"]) p.add(stageAt(name), { inputs: {} })
  }), "/")
  const runOnce = runPipeline({ file: "inline.ts", graph, overrides: [], sanity: false, force: [], reporter: { event: () => undefined, close: () => undefined } })
  const [before, after] = await Effect.runPromise(Effect.scoped(Effect.gen(function*() {
    const first = yield* runOnce
    write("node_modules/tokenlib/package.json", JSON.stringify({ name: "tokenlib", version: "1.1.0" }))
    return [first, yield* runOnce]
  }).pipe(Effect.provide(layerMemory.pipe(Layer.provide(NodeServices.layer))))))
  const packages = Object.fromEntries(before.stages.map((s) => [s.id, s.manifest!.code.packages]))
  expect(packages).toEqual({
    direct: { tokenlib: "1.0.0" },
    transitive: { "@scope/tool": "2.0.0", tokenlib: "1.0.0" },
    none: {}
  })
  expect(after.stages.map((s) => [s.id, s.status])).toEqual([["direct", "ran"], ["transitive", "ran"], ["none", "hit"]])
  expect(after.stages.map((s, i) => s.key === before.stages[i]!.key)).toEqual([false, false, true])
  const reasons = explainManifests("direct", before.stages[0]!.manifest!, after.stages[0]!.manifest!).map(formatReason)
  expect(reasons).toEqual(["package tokenlib 1.0.0 → 1.1.0"])
})
