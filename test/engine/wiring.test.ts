/**
 * The graph is checked before anything runs: a cycle (in a graph built by hand) is refused at
 * once, naming its stages; handles cannot be changed after the fact; a wire whose artifact kind or
 * table schema does not fit its input fails at graph build, naming stage, input, what it expects
 * and what it got (the file:line of the `p.add` is LoadPipeline's, tested end to end in cli.test.ts).
 */
import * as NodeServices from "@effect/platform-node/NodeServices"
import * as arrow from "apache-arrow"
import { Effect, Layer, Schema } from "effect"
import { describe, expect, it } from "vitest"
import { Blob, definePipeline, defineStage, Table, tableFrom, tableSchema } from "../../src/index.ts"
import { buildGraph, PipelineShapeError } from "../../src/Pipeline.ts"
import type { PipelineGraph, StageNode } from "../../src/Pipeline.ts"
import { configure, parseOverride } from "../../src/runner/Config.ts"
import { runPipeline } from "../../src/runner/Runner.ts"
import { layerMemory } from "../../src/store/MemoryStore.ts"

const numbers = tableSchema({ n: new arrow.Int32() })
const words = tableSchema({ word: new arrow.Utf8() })

const pass = defineStage({
  name: "pass",
  module: import.meta.url,
  config: Schema.Struct({}),
  inputs: { numbers: Table(numbers) },
  outputs: { numbers: Table(numbers) },
  run: (ctx) => Effect.succeed({ outputs: { numbers: ctx.inputs.numbers } })
})

const source = defineStage({
  name: "source",
  module: import.meta.url,
  config: Schema.Struct({}),
  inputs: {},
  outputs: { words: Table(words), report: Blob() },
  run: () => Effect.succeed({ outputs: { words: tableFrom(words, { word: ["a"] }), report: new Uint8Array() } })
})

const shapeError = (build: () => unknown): string => {
  try {
    build()
  } catch (error) {
    expect(error).toBeInstanceOf(PipelineShapeError)
    return (error as Error).message
  }
  throw new Error("expected a PipelineShapeError")
}

describe("graph checks", () => {
  it("refuse a cycle in under a second, naming its stages", async () => {
    const node = (id: string, from: string): StageNode => ({
      kind: "stage",
      id,
      stage: pass,
      config: {},
      inputs: { numbers: { node: from, output: "numbers", spec: Table(numbers) } }
    })
    const graph: PipelineGraph = { name: "loop", seed: 0, nodes: [node("a", "c"), node("b", "a"), node("c", "b")] }
    const started = performance.now()
    const error = await Effect.runPromise(
      Effect.flip(runPipeline({
        file: "loop.ts",
        graph,
        overrides: [],
        sanity: false,
        force: [],
        reporter: { event: () => undefined, close: () => undefined }
      })).pipe(Effect.provide(layerMemory.pipe(Layer.provide(NodeServices.layer))))
    )
    expect(performance.now() - started).toBeLessThan(1000)
    expect(error.message).toMatch(/^the wiring forms a cycle: (a → b → c → a|b → c → a → b|c → a → b → c)/)
  })

  it("freeze handles, so a handle changed after p.add cannot rewire the graph", () => {
    const message = (() => {
      try {
        buildGraph(definePipeline({ name: "mutant" }, (p) => {
          const first = p.add(source, { inputs: {} })
          ;(first.words as { node: string }).node = "elsewhere"
        }), "/")
      } catch (error) {
        return (error as Error).message
      }
      return "no error"
    })()
    expect(message).toMatch(/Cannot assign to read only property 'node'/)
  })

  it("refuse a table whose schema does not fit the input, naming stage, input, expected and got", () => {
    const message = shapeError(() =>
      buildGraph(definePipeline({ name: "schemas" }, (p) => {
        const made = p.add(source, { inputs: {} })
        p.add(pass, { name: "summed", inputs: { numbers: made.words as never } })
      }), "/")
    )
    expect(message).toBe(
      'stage "summed" (pass), input "numbers": expects a table [n: Int32], got output "words" of "source", a table [word: Utf8] ' +
        "(column 0: expected n: Int32, got word: Utf8)"
    )
  })

  it("refuse an artifact of another kind", () => {
    const message = shapeError(() =>
      buildGraph(definePipeline({ name: "kinds" }, (p) => {
        const made = p.add(source, { inputs: {} })
        p.add(pass, { inputs: { numbers: made.report as never } })
        p.add(pass, { name: "fromFile", inputs: { numbers: p.file("x.txt") as never } })
      }), "/")
    )
    expect(message).toBe('stage "pass" (pass), input "numbers": expects a table, got output "report" of "source", a file (blob)')
  })
})

describe("named inputs", () => {
  const reads = defineStage({
    name: "reads",
    module: import.meta.url,
    config: Schema.Struct({}),
    inputs: { file: Blob() },
    outputs: { report: Blob() },
    run: () => Effect.succeed({ outputs: { report: new Uint8Array() } })
  })
  const pipeline = definePipeline({ name: "named" }, (p) => {
    const model = p.dir("models/base", { name: "model" })
    p.add(reads, { inputs: { file: p.file("tokenizer.json", { in: model }) } })
    p.add(reads, { name: "plain", inputs: { file: p.file("data/a.txt") } })
  })
  const externals = (graph: PipelineGraph) =>
    graph.nodes.flatMap((node) => node.kind === "stage" ? [] : [{ id: node.id, path: node.path, relPath: node.relPath }])

  it("take their default path, or the one given for the run, and files inside them follow", () => {
    expect(externals(buildGraph(pipeline, "/repo/pipelines"))).toEqual([
      { id: "dir:model", path: "/repo/pipelines/models/base", relPath: "models/base" },
      { id: "file:model/tokenizer.json", path: "/repo/pipelines/models/base/tokenizer.json", relPath: "models/base/tokenizer.json" },
      { id: "file:data/a.txt", path: "/repo/pipelines/data/a.txt", relPath: "data/a.txt" }
    ])
    const moved = buildGraph(pipeline, "/repo/pipelines", new Map([["model", "/hub/qwen"], ["plain", "/ignored"]]))
    expect(externals(moved).slice(0, 2)).toEqual([
      { id: "dir:model", path: "/hub/qwen", relPath: "/hub/qwen" },
      { id: "file:model/tokenizer.json", path: "/hub/qwen/tokenizer.json", relPath: "/hub/qwen/tokenizer.json" }
    ])
  })

  it("share one namespace with stage instances, and `in` takes only a directory", () => {
    expect(shapeError(() => buildGraph(definePipeline({ name: "clash" }, (p) => {
      p.add(reads, { name: "model", inputs: { file: p.file("a.txt", { name: "model" }) } })
    }), "/"))).toContain(`an input is named "model" too: pass a distinct name to p.add`)
    expect(shapeError(() => buildGraph(definePipeline({ name: "inFile" }, (p) => {
      p.add(reads, { inputs: { file: p.file("b.txt", { in: p.file("a.txt") as never }) } })
    }), "/"))).toContain("`in` must be a p.dir handle")
  })

  it("take only --set <name>.path, and an unknown name lists the inputs", async () => {
    const graph = buildGraph(pipeline, "/repo/pipelines")
    const configured = (text: string) =>
      Effect.runPromise(Effect.flip(parseOverride(text).pipe(Effect.flatMap((o) => configure(graph, [o])))))
    expect((await configured("model.revision=main")).message).toBe(`input "model" takes only --set model.path=<path>`)
    expect((await configured("modle.path=/x")).message).toBe(`no stage instance "modle" (instances: reads, plain; inputs: model)`)
    await expect(Effect.runPromise(parseOverride("model.path=/hub/qwen").pipe(Effect.flatMap((o) => configure(graph, [o]))))).resolves.toBeDefined()
  })
})
