/**
 * Runs a pipeline of SFT stages through the engine on a memory store, as `pipeline run` does, and
 * returns each stage instance's record, its log lines and its table outputs, decoded.
 */
import { mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as NodeServices from "@effect/platform-node/NodeServices"
import * as arrow from "apache-arrow"
import { Effect, Layer } from "effect"
import type { PipelineBuilder } from "../../src/Pipeline.ts"
import { buildGraph, definePipeline } from "../../src/Pipeline.ts"
import type { RunStage } from "../../src/runner/Records.ts"
import { runPipeline } from "../../src/runner/Runner.ts"
import { layerMemory } from "../../src/store/MemoryStore.ts"
import { Store } from "../../src/store/Store.ts"
import { TableReader } from "../../src/TableReader.ts"

/** What a run left, by stage instance id. */
export interface StagesRun {
  readonly stage: (id: string) => RunStage
  /** A table output; fails the test when the stage did not produce it. */
  readonly table: (id: string, output: string) => arrow.Table
  /** The digest of an output. */
  readonly digest: (id: string, output: string) => string
  readonly log: (id: string) => ReadonlyArray<string>
}

/** Runs `build` as pipeline `name`; `file` stands for the pipeline file (tests pass their own path). */
export const runStages = (
  options: {
    readonly name: string
    readonly file: string
    readonly seed?: number
    readonly workers?: number
    readonly batchSize?: number
  },
  build: (p: PipelineBuilder) => void
): Promise<StagesRun> =>
  Effect.gen(function*() {
    const logs = new Map<string, Array<string>>()
    const pipeline = definePipeline({ name: options.name, seed: options.seed ?? 1 }, build)
    const record = yield* runPipeline({
      file: options.file,
      graph: buildGraph(pipeline, import.meta.dirname),
      overrides: [],
      sanity: false,
      force: [],
      workers: options.workers ?? 1,
      ...(options.batchSize === undefined ? {} : { batchSize: options.batchSize }),
      reporter: {
        event: (event) => {
          if (event.type === "log") logs.set(event.id, [...(logs.get(event.id) ?? []), event.message])
        },
        close: () => undefined
      }
    })
    const store = yield* Store
    const tables = new Map<string, arrow.Table>()
    for (const stage of record.stages) {
      for (const [name, ref] of Object.entries(stage.outputs ?? {})) {
        if (ref.kind === "table") tables.set(`${stage.id}/${name}`, arrow.tableFromIPC(yield* store.readBytes(ref)))
      }
    }
    const stage = (id: string) => {
      const found = record.stages.find((s) => s.id === id)
      if (found === undefined) throw new Error(`no stage instance ${id}`)
      return found
    }
    return {
      stage,
      table: (id: string, output: string) => {
        const table = tables.get(`${id}/${output}`)
        if (table === undefined) throw new Error(`${id} has no table ${output} (status ${stage(id).status}: ${stage(id).error})`)
        return table
      },
      digest: (id: string, output: string) => {
        const ref = stage(id).outputs?.[output]
        if (ref === undefined) throw new Error(`${id} has no output ${output} (status ${stage(id).status}: ${stage(id).error})`)
        return ref.digest
      },
      log: (id: string) => logs.get(id) ?? []
    }
  }).pipe(Effect.provide(layerMemory.pipe(Layer.provide(NodeServices.layer))), Effect.runPromise)

/** A table as a streamed stage input or output reads it (for calling `run` and `inspect` directly). */
export const tableReader = (table: arrow.Table): Promise<TableReader> => {
  const path = join(mkdtempSync(join(tmpdir(), "table-reader-")), "table.arrow")
  writeFileSync(path, arrow.tableToIPC(table, "file"))
  return TableReader.open(path)
}
