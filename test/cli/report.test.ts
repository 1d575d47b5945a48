/**
 * The report's data and page for a pipeline with an evaluate-like stage (in process, memory store):
 * a tag no view knows by name (a task metric) gets its own chart, the rows of a `samples` table
 * are shown (escaped), a run that took the stage from the cache shows the curves of the run that
 * computed it, and a second run's difference is `explain`'s.
 */
import { join } from "node:path"
import * as NodeServices from "@effect/platform-node/NodeServices"
import * as arrow from "apache-arrow"
import { Effect, Layer, Schema } from "effect"
import { describe, expect, it } from "vitest"
import { loadAssets, reportPage } from "../../src/cli/report/ReportPage.ts"
import { reportData } from "../../src/cli/report/ReportData.ts"
import { definePipeline, defineStage, Table, tableFrom, tableSchema } from "../../src/index.ts"
import { buildGraph } from "../../src/Pipeline.ts"
import type { Override } from "../../src/runner/Config.ts"
import { runPipeline } from "../../src/runner/Runner.ts"
import { layerMemory } from "../../src/store/MemoryStore.ts"
import { Store } from "../../src/store/Store.ts"
import { tensorBoardReporter } from "../../src/telemetry/TensorBoardReporter.ts"

const samplesSchema = tableSchema({ prompt: new arrow.Utf8(), completion: new arrow.Utf8() })

const evaluate = defineStage({
  name: "evaluate",
  module: import.meta.url,
  reads: [],
  config: Schema.Struct({ checkpoints: Schema.Int }),
  inputs: {},
  outputs: { samples: Table(samplesSchema) },
  run: (ctx) =>
    Effect.sync(() => {
      for (let step = 1; step <= ctx.config.checkpoints; step++) ctx.scalars(step * 10, { "eval/exact_match": step / 10 })
      return {
        outputs: {
          samples: tableFrom(samplesSchema, { prompt: ["2+2?", "Who are you?"], completion: ["4", "I am <b>Ada</b>"] })
        }
      }
    })
})

const pipeline = definePipeline({ name: "eval", seed: 1 }, (p) => {
  p.add(evaluate, { inputs: {}, config: { checkpoints: 3 } })
})

describe("report", () => {
  it("charts any tag, shows samples and the cached stage's curves from the run that computed it", async () => {
    // Loaded before the runs, so the reporter's own import of it resolves before they end.
    await import("../../src/telemetry/EventFile.ts")
    const html = await Effect.runPromise(Effect.scoped(Effect.gen(function*() {
      const store = yield* Store
      const run = (overrides: ReadonlyArray<Override>) =>
        runPipeline({
          file: "eval.ts",
          graph: buildGraph(pipeline, "/"),
          overrides,
          sanity: false,
          force: [],
          reporter: tensorBoardReporter(join(store.root, "runs"), { pipeline: "eval", file: "eval.ts", seed: 1, sanity: false, overrides: [] })
        })
      const first = yield* run([])
      const cached = yield* run([])
      const more = yield* run([{ instance: "evaluate", path: ["checkpoints"], value: 4, text: "evaluate.checkpoints=4" }])
      expect(cached.stages[0]!.status).toBe("hit")
      const data = yield* reportData([first, cached, more])
      expect(data.tags).toEqual(["eval/exact_match"])
      expect(data.runs.map((r) => r.scalars["eval/exact_match"])).toEqual([
        [[10, 20, 30], [0.1, 0.2, 0.3].map(Math.fround)],
        [[10, 20, 30], [0.1, 0.2, 0.3].map(Math.fround)],
        [[10, 20, 30, 40], [0.1, 0.2, 0.3, 0.4].map(Math.fround)]
      ])
      expect(data.runs[1]!.stages[0]!.telemetryFrom).toBe(first.id)
      expect(data.runs[0]!.samples).toEqual([
        { stage: "evaluate", columns: ["prompt", "completion"], rows: [["2+2?", "4"], ["Who are you?", "I am <b>Ada</b>"]], total: 2 }
      ])
      expect(data.differences.map((d) => d.stages)).toEqual([
        [],
        [{ head: expect.stringMatching(/^evaluate {2}\S+ → \S+$/), reasons: ["config /evaluate/checkpoints 3 → 4"] }]
      ])
      return reportPage(data, loadAssets(), new Date(0))
    }).pipe(Effect.provide(layerMemory.pipe(Layer.provide(NodeServices.layer))))))
    expect(html).toContain("<td>I am &lt;b&gt;Ada&lt;/b&gt;</td>")
    expect(html).toContain("config /evaluate/checkpoints 3 → 4")
    // Self-contained: no script, style or image from anywhere else.
    expect(html).not.toMatch(/<(script|link|img)[^>]+(src|href)=/)
    expect(html).toContain("uPlot")
  })
})
