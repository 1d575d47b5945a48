/**
 * The order of training: packed rows shuffled per epoch with the seed (like the Trainer's seeded
 * RandomSampler), grouped into micro-batches of `perDeviceTrainBatchSize` rows, and micro-batches
 * grouped into optimizer steps of `gradientAccumulationSteps`. A micro-batch is flattened into one
 * token stream; each packed document becomes its own attention segment.
 */
import { Effect, Random } from "effect"
import type { Batch } from "../../native/index.ts"
import { int32ListRow } from "../schemas/int32Lists.ts"
import type { PackedTable } from "../schemas/packed.ts"

/** One optimizer step: the packed rows of each of its micro-batches. */
export type StepPlan = ReadonlyArray<ReadonlyArray<number>>

/** Every optimizer step of every epoch, in order; the last step of an epoch may hold fewer micro-batches. */
export const planSteps = (rows: number, options: {
  readonly epochs: number
  readonly batchSize: number
  readonly accumulation: number
  readonly seed: number
}): ReadonlyArray<StepPlan> => {
  const steps: Array<StepPlan> = []
  for (let epoch = 0; epoch < options.epochs; epoch++) {
    const order = Effect.runSync(Random.shuffle(Array.from({ length: rows }, (_, i) => i)).pipe(Random.withSeed(`${options.seed}/${epoch}`)))
    const micro: Array<ReadonlyArray<number>> = []
    for (let i = 0; i < order.length; i += options.batchSize) micro.push(order.slice(i, i + options.batchSize))
    for (let i = 0; i < micro.length; i += options.accumulation) steps.push(micro.slice(i, i + options.accumulation))
  }
  return steps
}

/** The packed rows `rows` of `table` as one flattened batch. */
export const makeBatch = (table: PackedTable, rows: ReadonlyArray<number>): Batch => {
  const column = (name: "input_ids" | "labels" | "position_ids" | "seq_lengths") =>
    concat(rows.map((row) => int32ListRow(table.getChild(name)!, row)))
  const lengths = column("seq_lengths")
  const cuSeqlens = new Int32Array(lengths.length + 1)
  lengths.forEach((length, i) => (cuSeqlens[i + 1] = cuSeqlens[i]! + length))
  return { inputIds: column("input_ids"), labels: column("labels"), positionIds: column("position_ids"), cuSeqlens }
}

const concat = (parts: ReadonlyArray<Int32Array>): Int32Array => {
  const out = new Int32Array(parts.reduce((n, part) => n + part.length, 0))
  let offset = 0
  for (const part of parts) {
    out.set(part, offset)
    offset += part.length
  }
  return out
}
