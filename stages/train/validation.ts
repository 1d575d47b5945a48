/**
 * Scoring a model on validation rows without gradients, shared by train (its eval_loss) and the
 * evaluate stage: the rows in input order, in batches of `perDeviceEvalBatchSize`, each batch one
 * flattened token stream as in training.
 */
import type { Batch, NativeModel } from "../../native/index.ts"
import type { PackedTable } from "../schemas/packed.ts"
import { makeBatch, readPackedRows } from "./batches.ts"

/** The rows of `table` in order, `batchSize` rows a batch. */
export const validationBatches = (table: PackedTable, batchSize: number): Array<Batch> => {
  const rows = readPackedRows(table)
  const batches: Array<Batch> = []
  for (let i = 0; i < table.numRows; i += batchSize) {
    const end = Math.min(i + batchSize, table.numRows)
    batches.push(makeBatch(rows, Array.from({ length: end - i }, (_, k) => i + k)))
  }
  return batches
}

/** Summed over every batch: the token losses, the scored tokens and those predicted exactly. */
export interface Score {
  readonly lossSum: number
  readonly tokens: number
  readonly correct: number
}

export const score = async (model: NativeModel, batches: ReadonlyArray<Batch>): Promise<Score> => {
  let lossSum = 0
  let tokens = 0
  let correct = 0
  for (const batch of batches) {
    const result = await model.evalLoss(batch)
    lossSum += result.lossSum
    tokens += result.tokens
    correct += result.correct
  }
  return { lossSum, tokens, correct }
}
