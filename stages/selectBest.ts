/**
 * select-best: picks one of train's checkpoints by the evaluate stage's metrics, as the Trainer's
 * `load_best_model_at_end` does with `metric_for_best_model` and `greater_is_better`, and outputs
 * that checkpoint's directory. Only a strict improvement moves the pick, so ties go to the earlier
 * step. Its metrics say what was picked and why.
 */
import { Effect, Schema } from "effect"
import { cp } from "node:fs/promises"
import { join } from "node:path"
import { defineStage, Files, StageFailure, Table, withDefault } from "../src/index.ts"
import { evalMetricNames, evalMetricsSchema } from "./schemas/evaluation.ts"
import type { EvalMetricName } from "./schemas/evaluation.ts"
import { improves } from "./train/hfCheckpoint.ts"
import type { Best } from "./train/hfCheckpoint.ts"

/** A metric by its column name or, as transformers allows, without the `eval_` prefix. */
const MetricName = Schema.Literals([...evalMetricNames, ...evalMetricNames.map((name) => name.slice("eval_".length))])

export const SelectBestConfig = Schema.Struct({
  metricForBestModel: MetricName.pipe(withDefault("eval_loss")),
  /** Default: false for loss and perplexity, true for the others (the Trainer's rule). */
  greaterIsBetter: Schema.optionalKey(Schema.Boolean)
})

const failure = (message: string) => new StageFailure({ stage: "select-best", message })

export const selectBest = defineStage({
  name: "select-best",
  module: import.meta.url,
  reads: [],
  config: SelectBestConfig,
  inputs: { metrics: Table(evalMetricsSchema), checkpoints: Files() },
  outputs: { model: Files() },
  run: (ctx) =>
    Effect.gen(function*() {
      const name = ctx.config.metricForBestModel
      const column: EvalMetricName = name.startsWith("eval_") ? name as EvalMetricName : `eval_${name}` as EvalMetricName
      const greater = ctx.config.greaterIsBetter ?? !["eval_loss", "eval_perplexity"].includes(column)
      const rows = ctx.inputs.metrics.toArray().map((row) => row.toJSON() as { step: number; checkpoint: string } & Record<EvalMetricName, number | null>)
      let best: Best | undefined
      let scored = 0
      for (const row of [...rows].sort((a, b) => a.step - b.step)) {
        const value = row[column]
        if (value === null) continue
        scored++
        if (improves(value, best, greater)) best = { step: row.step, metric: value }
      }
      if (best === undefined) {
        return yield* Effect.fail(failure(`no checkpoint has ${column} (evaluate computes it only with ${column === "eval_task_metric" ? "prompts and a metric" : "validation rows"})`))
      }
      const chosen = rows.find((row) => row.step === best!.step)!.checkpoint
      const out = join(ctx.tmpDir, "model")
      yield* Effect.tryPromise({
        try: () => cp(join(ctx.inputs.checkpoints.dir, chosen), out, { recursive: true }),
        catch: (cause) => new StageFailure({ stage: "select-best", message: `cannot copy ${chosen}`, cause })
      })
      const why = `${column} ${Number(best.metric.toPrecision(6))} is the ${greater ? "highest" : "lowest"} of ${scored} checkpoint${scored === 1 ? "" : "s"} (ties go to the earlier step)`
      ctx.log(`picked ${chosen}: ${why}`)
      return {
        outputs: { model: { dir: out } },
        metrics: { checkpoint: chosen, step: best.step, metric: column, value: best.metric, greaterIsBetter: String(greater), reason: why }
      }
    })
})
