/**
 * The log history of a training run, one row per optimizer step: what the Trainer's
 * `state.log_history` holds, as a table. Wall-clock figures (tokens/s) are not here: the same key
 * must always give the same bytes, so they go to the stage's metrics instead.
 */
import * as arrow from "apache-arrow"
import { nullable, tableFrom, tableSchema } from "../../src/index.ts"

export const historySchema = tableSchema({
  step: new arrow.Int32(),
  epoch: new arrow.Float64(),
  /** Mean token loss of the step (sum over its micro-batches ÷ its trained tokens). */
  loss: new arrow.Float64(),
  /** The rate this step used. */
  learning_rate: new arrow.Float64(),
  /** Global gradient norm before clipping. */
  grad_norm: new arrow.Float64(),
  trained_tokens: new arrow.Int32(),
  /** Mean token loss on the validation rows, at evaluation steps. */
  eval_loss: nullable(new arrow.Float64())
})

export interface HistoryRow {
  readonly step: number
  readonly epoch: number
  readonly loss: number
  readonly learning_rate: number
  readonly grad_norm: number
  readonly trained_tokens: number
  readonly eval_loss: number | null
}

export const historyTable = (rows: ReadonlyArray<HistoryRow>) =>
  tableFrom(historySchema, {
    step: rows.map((r) => r.step),
    epoch: rows.map((r) => r.epoch),
    loss: rows.map((r) => r.loss),
    learning_rate: rows.map((r) => r.learning_rate),
    grad_norm: rows.map((r) => r.grad_norm),
    trained_tokens: rows.map((r) => r.trained_tokens),
    eval_loss: rows.map((r) => r.eval_loss)
  })
