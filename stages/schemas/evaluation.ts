/**
 * The evaluate stage's outputs and select-best's input: one row of metrics per checkpoint, and one
 * row per generated answer. Metric columns carry the Trainer's `eval_` names, which
 * `metricForBestModel` refers to.
 */
import * as arrow from "apache-arrow"
import { nullable, tableSchema } from "../../src/index.ts"
import type { ColumnsOf } from "../../src/index.ts"

/** Per checkpoint; a metric is null when there was nothing to compute it on. */
export const evalMetricsSchema = tableSchema({
  step: new arrow.Int32(),
  checkpoint: new arrow.Utf8(),
  /** Mean token loss on the validation rows. */
  eval_loss: nullable(new arrow.Float64()),
  eval_perplexity: nullable(new arrow.Float64()),
  /** Share of scored validation tokens the model predicts exactly (greedy). */
  eval_token_accuracy: nullable(new arrow.Float64()),
  /** Share of held-out prompts answered right by the task metric. */
  eval_task_metric: nullable(new arrow.Float64()),
  eval_tokens: new arrow.Int32(),
  eval_samples: new arrow.Int32()
})
export type EvalMetricsColumns = ColumnsOf<typeof evalMetricsSchema>

/** The metric columns `metricForBestModel` can name. */
export const evalMetricNames = ["eval_loss", "eval_perplexity", "eval_token_accuracy", "eval_task_metric"] as const
export type EvalMetricName = (typeof evalMetricNames)[number]

/** Per checkpoint and held-out prompt, in prompt order; `match` is null without a task metric. */
export const samplesSchema = tableSchema({
  step: new arrow.Int32(),
  prompt: new arrow.Utf8(),
  reference: new arrow.Utf8(),
  generated: new arrow.Utf8(),
  match: nullable(new arrow.Bool()),
  source: new arrow.Utf8()
})
export type SamplesColumns = ColumnsOf<typeof samplesSchema>
