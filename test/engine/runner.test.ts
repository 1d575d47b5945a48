/**
 * The runner in-process against the memory store (fast, no CLI start-up): optional inputs, output
 * declaration checks, exceptions inside stages, failure isolation, seeds, env facts and configs
 * without a canonical encoding.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as NodeServices from "@effect/platform-node/NodeServices"
import * as arrow from "apache-arrow"
import { Effect, Layer, Schema } from "effect"
import { describe, expect, it } from "vitest"
import { Blob, definePipeline, defineStage, Files, Optional, StageFailure, Table, tableFrom, tableSchema } from "../../src/index.ts"
import { buildGraph } from "../../src/Pipeline.ts"
import type { Pipeline } from "../../src/Pipeline.ts"
import { explainManifests } from "../../src/runner/Explain.ts"
import type { RunEvent } from "../../src/runner/Reporter.ts"
import { runPipeline } from "../../src/runner/Runner.ts"
import { stageSeed } from "../../src/runner/Seed.ts"
import { layerMemory } from "../../src/store/MemoryStore.ts"
import { Store } from "../../src/store/Store.ts"

const numbers = tableSchema({ n: new arrow.Int32() })
const seen: Array<{ instance: string; seed: number; extra: unknown }> = []

const source = defineStage({
  name: "source",
  module: import.meta.url,
  config: Schema.Struct({ count: Schema.Int, backend: Schema.optional(Schema.String) }),
  inputs: { extra: Optional(Blob()) },
  outputs: { numbers: Table(numbers) },
  env: (config) => ({ backend: config.backend ?? "cpu" }),
  run: (ctx) =>
    Effect.sync(() => {
      seen.push({ instance: "source", seed: ctx.seed, extra: ctx.inputs.extra })
      return { outputs: { numbers: tableFrom(numbers, { n: Array.from({ length: ctx.config.count }, (_, i) => i) }) } }
    })
})

const wrongOutput = defineStage({
  name: "wrongOutput",
  module: import.meta.url,
  config: Schema.Struct({}),
  inputs: { numbers: Table(numbers) },
  outputs: { numbers: Table(numbers) },
  run: () =>
    Effect.sync(() => ({
      outputs: { numbers: tableFrom(tableSchema({ n: new arrow.Float64() }), { n: [1.5] }) as never }
    }))
})

const throws = defineStage({
  name: "throws",
  module: import.meta.url,
  config: Schema.Struct({}),
  inputs: { numbers: Table(numbers) },
  outputs: { report: Blob() },
  run: () =>
    Effect.sync(() => {
      throw new Error("boom")
    })
})

const sum = defineStage({
  name: "sum",
  module: import.meta.url,
  config: Schema.Struct({}),
  inputs: { numbers: Table(numbers) },
  outputs: { total: Blob() },
  run: (ctx) =>
    Effect.sync(() => {
      seen.push({ instance: "sum", seed: ctx.seed, extra: undefined })
      const total = [...ctx.inputs.numbers.getChild("n")!].reduce((a: number, b) => a + Number(b), 0)
      return { outputs: { total: new TextEncoder().encode(String(total)) }, metrics: { total } }
    })
})

/** Reads nothing run-wide: neither a new seed nor --sanity may recompute it. */
const doubled = defineStage({
  name: "doubled",
  module: import.meta.url,
  reads: [],
  config: Schema.Struct({}),
  inputs: { numbers: Table(numbers) },
  outputs: { numbers: Table(numbers) },
  run: (ctx) =>
    Effect.sync(() => ({
      outputs: { numbers: tableFrom(numbers, { n: [...ctx.inputs.numbers.getChild("n")!].map((n) => Number(n) * 2) }) }
    }))
})

/** Reads the run's seed only when its config names no seed of its own (like HF's data_seed). */
const shuffled = defineStage({
  name: "shuffled",
  module: import.meta.url,
  reads: (config) => (config.dataSeed === undefined ? ["seed"] : []),
  config: Schema.Struct({ dataSeed: Schema.optional(Schema.Int) }),
  inputs: {},
  outputs: { report: Blob() },
  run: (ctx) =>
    Effect.sync(() => ({ outputs: { report: new TextEncoder().encode(String(ctx.config.dataSeed ?? ctx.seed)) } }))
})

/** Reads the seed without declaring it. */
const sneaky = defineStage({
  name: "sneaky",
  module: import.meta.url,
  reads: ["sanity"],
  config: Schema.Struct({}),
  inputs: {},
  outputs: { report: Blob() },
  run: (ctx) => Effect.sync(() => ({ outputs: { report: new TextEncoder().encode(String(ctx.seed)) } }))
})

/** Its `threads` cannot change what it writes, so it stays out of the key. */
const threaded = defineStage({
  name: "threaded",
  module: import.meta.url,
  reads: [],
  config: Schema.Struct({ count: Schema.Int, threads: Schema.optional(Schema.Int) }),
  unkeyed: ["threads"],
  inputs: {},
  outputs: { report: Blob() },
  run: (ctx) => Effect.sync(() => ({ outputs: { report: new TextEncoder().encode(String(ctx.config.count)) } }))
})

const dated = defineStage({
  name: "dated",
  module: import.meta.url,
  config: Schema.Struct({ when: Schema.DateFromString }),
  inputs: {},
  outputs: { report: Blob() },
  run: () => Effect.sync(() => ({ outputs: { report: new Uint8Array() } }))
})

const listing = defineStage({
  name: "listing",
  module: import.meta.url,
  config: Schema.Struct({}),
  inputs: { tree: Files(), file: Blob() },
  outputs: { listing: Blob() },
  run: (ctx) =>
    Effect.sync(() => {
      const lines = ctx.inputs.tree.files.map((f) => `${f.path} ${readFileSync(join(ctx.inputs.tree.dir, f.path), "utf8")}`)
      lines.push(`${ctx.inputs.file.name} ${readFileSync(ctx.inputs.file.path, "utf8")}`)
      return { outputs: { listing: new TextEncoder().encode(lines.join("\n")) } }
    })
})

/** Reads a file its tree does not have, and a blob, as a stage reading a model directory would. */
const opensMissing = defineStage({
  name: "opensMissing",
  module: import.meta.url,
  config: Schema.Struct({}),
  inputs: { tree: Files(), file: Blob() },
  outputs: { listing: Blob() },
  run: (ctx) =>
    Effect.try({
      try: () => readFileSync(join(ctx.inputs.tree.dir, "tokenizer_config.json")),
      catch: (cause) => new StageFailure({ stage: "opensMissing", message: `${(cause as Error).message}; ${ctx.inputs.file.path} was fine`, cause })
    }).pipe(Effect.map((bytes) => ({ outputs: { listing: bytes } })))
})

let attempts = 0

const resumable = defineStage({
  name: "resumable",
  module: import.meta.url,
  config: Schema.Struct({}),
  inputs: {},
  outputs: { state: Blob() },
  run: (ctx) =>
    Effect.gen(function*() {
      attempts += 1
      const latest = yield* ctx.checkpoints.latest()
      if (attempts === 1) {
        writeFileSync(join(ctx.tmpDir, "state.txt"), "step 5")
        yield* ctx.checkpoints.save(5, ctx.tmpDir)
        return yield* new StageFailure({ stage: "resumable", message: "killed after step 5" })
      }
      const resumed = latest._tag === "Some" ? `${latest.value.step}:${readFileSync(join(latest.value.dir, "state.txt"), "utf8")}` : "fresh"
      return { outputs: { state: new TextEncoder().encode(resumed) } }
    })
})

let forcedAttempts = 0

/** Saves a checkpoint and fails on its first attempt; then says what it resumed from. */
const restartable = defineStage({
  name: "restartable",
  module: import.meta.url,
  config: Schema.Struct({}),
  inputs: {},
  outputs: { state: Blob() },
  run: (ctx) =>
    Effect.gen(function*() {
      forcedAttempts += 1
      if (forcedAttempts === 1) {
        writeFileSync(join(ctx.tmpDir, "state.txt"), "half")
        yield* ctx.checkpoints.save(3, ctx.tmpDir)
        return yield* new StageFailure({ stage: "restartable", message: "stopped at step 3" })
      }
      const latest = yield* ctx.checkpoints.latest()
      return { outputs: { state: new TextEncoder().encode(latest._tag === "Some" ? `resumed ${latest.value.step}` : "fresh") } }
    })
})

const events: Array<RunEvent> = []
const reporter = { event: (event: RunEvent) => void events.push(event), close: () => undefined }

const run = (pipeline: Pipeline, options: { sanity?: boolean; seed?: number } = {}) =>
  runPipeline({
    file: "inline.ts",
    graph: buildGraph(pipeline, "/"),
    overrides: [],
    sanity: options.sanity ?? false,
    force: [],
    reporter,
    ...(options.seed === undefined ? {} : { seed: options.seed })
  })

const test = <A, E>(effect: Effect.Effect<A, E, Store>) =>
  Effect.runPromise(Effect.scoped(effect.pipe(Effect.provide(layerMemory.pipe(Layer.provide(NodeServices.layer))))) as Effect.Effect<A, E>)

describe("runner", () => {
  it("isolates failures: a bad output or a throw fails its branch, the rest completes", async () => {
    const pipeline = definePipeline({ name: "isolation", seed: 1 }, (p) => {
      const numbersOut = p.add(source, { inputs: {}, config: { count: 4 } })
      const bad = p.add(wrongOutput, { inputs: { numbers: numbersOut.numbers } })
      p.add(sum, { name: "afterBad", inputs: { numbers: bad.numbers } })
      p.add(throws, { inputs: { numbers: numbersOut.numbers } })
      p.add(sum, { inputs: { numbers: numbersOut.numbers } })
    })
    const record = await test(run(pipeline))
    const status = Object.fromEntries(record.stages.map((s) => [s.id, s.status]))
    expect(status).toEqual({ source: "ran", wrongOutput: "failed", afterBad: "skipped", throws: "failed", sum: "ran" })
    const errors = Object.fromEntries(record.stages.map((s) => [s.id, s.error]))
    expect(errors.wrongOutput).toBe("output numbers: column 0: expected n: Int32, got n: Float64")
    expect(errors.throws).toBe("Error: boom")
    expect(record.status).toBe("failed")
    expect(record.stages.find((s) => s.id === "sum")!.metrics).toEqual({ total: 6 })
  })

  it("runs no stage when a source file changed after the code was loaded, naming the file", async () => {
    seen.length = 0
    const pipeline = definePipeline({ name: "edited", seed: 1 }, (p) => {
      p.add(source, { inputs: {}, config: { count: 1 } })
    })
    const asked: Array<string> = []
    const outcome = await test(runPipeline({
      file: "inline.ts",
      graph: buildGraph(pipeline, "/"),
      // Asked after the digests are taken: a digest taken first would name the changed bytes.
      changedSinceLoad: () => (asked.push("asked"), "/project/stages/source.ts"),
      overrides: [],
      sanity: false,
      force: [],
      reporter
    }).pipe(Effect.flip))
    expect(outcome).toMatchObject({ _tag: "CodeDigestError", file: "/project/stages/source.ts" })
    expect(outcome.message).toBe("changed while the run was starting; run again")
    expect(asked).toEqual(["asked"])
    expect(seen).toEqual([])
  })

  it("passes undefined for an unwired optional input and records it as null in the key", async () => {
    seen.length = 0
    const pipeline = definePipeline({ name: "optional", seed: 1 }, (p) => {
      p.add(source, { inputs: {}, config: { count: 1 } })
    })
    const record = await test(run(pipeline))
    expect(seen).toEqual([{ instance: "source", seed: stageSeed(1, "source"), extra: undefined }])
    expect(record.stages[0]!.manifest!.inputs).toEqual({ extra: null })
  })

  it("derives seeds from the run seed and instance name; seed, sanity and env facts enter the key", async () => {
    seen.length = 0
    const pipeline = (backend: string) =>
      definePipeline({ name: "seeds", seed: 5 }, (p) => {
        const a = p.add(source, { inputs: {}, config: { count: 2, backend } })
        p.add(sum, { name: "sumA", inputs: { numbers: a.numbers } })
        p.add(sum, { name: "sumB", inputs: { numbers: a.numbers } })
      })
    const [base, sanity, reseeded, cuda] = await test(Effect.all([
      run(pipeline("cpu")),
      run(pipeline("cpu"), { sanity: true }),
      run(pipeline("cpu"), { seed: 6 }),
      run(pipeline("cuda"))
    ]))
    const seeds = Object.fromEntries(base!.stages.map((s) => [s.id, s.manifest!.seed]))
    expect(seeds).toEqual({ source: stageSeed(5, "source"), sumA: stageSeed(5, "sumA"), sumB: stageSeed(5, "sumB") })
    expect(seeds.sumA).not.toBe(seeds.sumB)
    const reasons = (other: typeof base) =>
      explainManifests("source", base!.stages[0]!.manifest!, other!.stages[0]!.manifest!).map((r) => `${r.kind} ${r.path} ${r.old} → ${r.new}`)
    expect(reasons(sanity)).toEqual(["env sanity false → true"])
    expect(reasons(reseeded)).toEqual([`seed  ${stageSeed(5, "source")} → ${stageSeed(6, "source")}`])
    expect(reasons(cuda)).toEqual(["config /source/backend \"cpu\" → \"cuda\"", "env backend cpu → cuda"])
  })

  it("keys a stage by the seed and sanity mode only when it reads them, and fails one that reads an undeclared one", async () => {
    const pipeline = definePipeline({ name: "reads", seed: 5 }, (p) => {
      const a = p.add(source, { inputs: {}, config: { count: 2 } })
      p.add(doubled, { inputs: { numbers: a.numbers } })
      p.add(sneaky, { inputs: {} })
    })
    const [base, reseeded, sanity] = await test(Effect.all([
      run(pipeline),
      run(pipeline, { seed: 6 }),
      run(pipeline, { sanity: true })
    ]))
    const statuses = (record: typeof base) => Object.fromEntries(record!.stages.map((s) => [s.id, s.status]))
    expect(statuses(base)).toEqual({ source: "ran", doubled: "ran", sneaky: "failed" })
    // source reads both, so it reruns; its output is the same, so doubled, which reads neither, does not.
    expect(statuses(reseeded)).toEqual({ source: "ran", doubled: "hit", sneaky: "failed" })
    expect(statuses(sanity)).toEqual({ source: "ran", doubled: "hit", sneaky: "failed" })
    expect(reseeded!.stages[1]!.manifest!.seed).toBeNull()
    expect(base!.stages[1]!.manifest!.env).toEqual({})
    expect(base!.stages[2]!.error).toBe(`Error: ctx.seed is read, but "seed" is not in the stage's reads`)
  })

  it("lets the config decide whether the run's seed is read", async () => {
    const pipeline = definePipeline({ name: "dataSeed", seed: 5 }, (p) => {
      p.add(shuffled, { name: "own", inputs: {}, config: { dataSeed: 3 } })
      p.add(shuffled, { name: "runs", inputs: {} })
    })
    const [, reseeded] = await test(Effect.all([run(pipeline), run(pipeline, { seed: 6 })]))
    expect(Object.fromEntries(reseeded!.stages.map((s) => [s.id, s.status]))).toEqual({ own: "hit", runs: "ran" })
  })

  it("leaves unkeyed config fields out of the key, so changing one is a cache hit", async () => {
    const pipeline = (config: { count: number; threads?: number }) =>
      definePipeline({ name: "threaded" }, (p) => void p.add(threaded, { inputs: {}, config }))
    const [first, other, changed] = await test(Effect.all([
      run(pipeline({ count: 2, threads: 1 })),
      run(pipeline({ count: 2, threads: 4 })),
      run(pipeline({ count: 3, threads: 4 }))
    ]))
    expect([first!, other!, changed!].map((r) => r.stages[0]!.status)).toEqual(["ran", "hit", "ran"])
    expect(first!.stages[0]!.manifest!.config).toEqual({ count: 2 })
  })

  it("rejects a decoded config without a canonical encoding, naming its path", async () => {
    const pipeline = definePipeline({ name: "dated" }, (p) => {
      p.add(dated, { inputs: {}, config: { when: "2024-01-01" } })
    })
    const error = await test(Effect.flip(run(pipeline)))
    expect(error._tag).toBe("ConfigError")
    expect(error).toMatchObject({ path: "/dated/when", message: "an instance of Date has no canonical encoding" })
  })

  it("imports external files and directories by content and materialises trees for the stage", async () => {
    const dir = mkdtempSync(join(tmpdir(), "runner-dir-"))
    try {
      mkdirSync(join(dir, "model", "sub"), { recursive: true })
      writeFileSync(join(dir, "model", "config.json"), "{}")
      writeFileSync(join(dir, "model", "sub", "weights.bin"), "w")
      writeFileSync(join(dir, "notes.txt"), "n")
      const pipeline = definePipeline({ name: "external" }, (p) => {
        p.add(listing, { inputs: { tree: p.dir("model"), file: p.file("notes.txt") } })
      })
      const record = await test(Effect.gen(function*() {
        const store = yield* Store
        const result = yield* runPipeline({
          file: join(dir, "pipeline.ts"), graph: buildGraph(pipeline, dir), overrides: [], sanity: false, force: [], reporter
        })
        const out = result.stages[0]!.outputs!.listing!
        const bytes = yield* store.readBytes({ digest: out.digest as never, size: out.size })
        return { result, text: new TextDecoder().decode(bytes) }
      }))
      expect(record.result.status).toBe("succeeded")
      expect(record.text).toBe("config.json {}\nsub/weights.bin w\nnotes.txt n")
      const tree = record.result.external.find((e) => e.id === "dir:model")!.artifact
      expect(tree.files!.map((f) => f.path)).toEqual(["config.json", "sub/weights.bin"])
      expect(record.result.stages[0]!.manifest!.inputs.file).toMatchObject({ name: "notes.txt" })
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it("names the user's own files in a stage's error, not the store's paths", async () => {
    const dir = mkdtempSync(join(tmpdir(), "runner-paths-"))
    try {
      mkdirSync(join(dir, "models", "tiny"), { recursive: true })
      writeFileSync(join(dir, "models", "tiny", "config.json"), "{}")
      writeFileSync(join(dir, "notes.txt"), "n")
      const pipeline = definePipeline({ name: "paths" }, (p) => {
        p.add(opensMissing, { inputs: { tree: p.dir("models/tiny"), file: p.file("notes.txt") } })
      })
      const record = await test(Effect.gen(function*() {
        const store = yield* Store
        const result = yield* runPipeline({
          file: join(dir, "pipeline.ts"), graph: buildGraph(pipeline, dir), overrides: [], sanity: false, force: [], reporter
        })
        return { error: result.stages[0]!.error!, root: store.root }
      }))
      expect(record.error).toBe("ENOENT: no such file or directory, open 'models/tiny/tokenizer_config.json'; notes.txt was fine")
      expect(record.error).not.toContain(record.root)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it("starts a forced stage from scratch, ignoring its checkpoints", async () => {
    const pipeline = definePipeline({ name: "forced" }, (p) => {
      p.add(restartable, { inputs: {} })
    })
    const text = await test(Effect.gen(function*() {
      const store = yield* Store
      yield* run(pipeline)
      const forced = yield* runPipeline({ file: "inline.ts", graph: buildGraph(pipeline, "/"), overrides: [], sanity: false, force: ["restartable"], reporter })
      const out = forced.stages[0]!.outputs!.state!
      return new TextDecoder().decode(yield* store.readBytes({ digest: out.digest as never, size: out.size }))
    }))
    expect(text).toBe("fresh")
  })

  it("lets a failed stage resume from its last checkpoint, and drops checkpoints once it commits", async () => {
    const pipeline = definePipeline({ name: "resume" }, (p) => {
      p.add(resumable, { inputs: {} })
    })
    const outcome = await test(Effect.gen(function*() {
      const store = yield* Store
      const failed = yield* run(pipeline)
      const done = yield* run(pipeline)
      const out = done.stages[0]!.outputs!.state!
      const bytes = yield* store.readBytes({ digest: out.digest as never, size: out.size })
      const left = yield* store.latestCheckpoint(done.stages[0]!.key!)
      return { failed: failed.stages[0]!.error, text: new TextDecoder().decode(bytes), left: left.checkpoint._tag }
    }))
    expect(outcome).toEqual({ failed: "killed after step 5", text: "5:step 5", left: "None" })
  })
})
