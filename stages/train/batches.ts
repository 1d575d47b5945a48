/**
 * The order of training: packed rows shuffled per epoch with the seed (like the Trainer's seeded
 * RandomSampler), grouped into micro-batches of `perDeviceTrainBatchSize` rows, and micro-batches
 * grouped into optimizer steps of `gradientAccumulationSteps`. A micro-batch is flattened into one
 * token stream; each packed document becomes its own attention segment.
 */
import { Effect, Random } from "effect"
import type { Batch } from "../../native/index.ts"
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
  const ids: Array<number> = []
  const labels: Array<number> = []
  const positions: Array<number> = []
  const cu: Array<number> = [0]
  for (const row of rows) {
    ids.push(...table.getChild("input_ids")!.get(row)!.toArray())
    labels.push(...table.getChild("labels")!.get(row)!.toArray())
    positions.push(...table.getChild("position_ids")!.get(row)!.toArray())
    for (const length of table.getChild("seq_lengths")!.get(row)!.toArray()) cu.push(cu.at(-1)! + length)
  }
  return {
    inputIds: Int32Array.from(ids),
    labels: Int32Array.from(labels),
    positionIds: Int32Array.from(positions),
    cuSeqlens: Int32Array.from(cu)
  }
}

