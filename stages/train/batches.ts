/**
 * The order of training: packed rows shuffled per epoch with the seed (like the Trainer's seeded
 * RandomSampler), grouped into micro-batches of `perDeviceTrainBatchSize` rows, and micro-batches
 * grouped into optimizer steps of `gradientAccumulationSteps`. A micro-batch is flattened into one
 * token stream; each packed document becomes its own attention segment.
 */
import { Effect, Random } from "effect"
import type { Batch } from "../../native/index.ts"
import { int32ListRows } from "../schemas/int32Lists.ts"
import type * as arrow from "apache-arrow"
import type { ColumnsOf } from "../../src/index.ts"
import type { packedSchema, PackedTable } from "../schemas/packed.ts"

/** One optimizer step: the packed rows of each of its micro-batches. */
export type StepPlan = ReadonlyArray<ReadonlyArray<number>>

/** Optimizer steps in one pass over `rows`: the last one may hold fewer micro-batches. */
export const stepsPerEpoch = (rows: number, batchSize: number, accumulation: number): number =>
  Math.ceil(Math.ceil(rows / batchSize) / accumulation)

/**
 * Every optimizer step of every epoch, in order. With `maxSteps` (transformers' `max_steps`) the
 * epochs repeat until that many steps, and the last epoch is cut there.
 */
export const planSteps = (rows: number, options: {
  readonly epochs: number
  readonly maxSteps?: number | undefined
  readonly batchSize: number
  readonly accumulation: number
  readonly seed: number
}): ReadonlyArray<StepPlan> => {
  const perEpoch = stepsPerEpoch(rows, options.batchSize, options.accumulation)
  const epochs = options.maxSteps === undefined ? options.epochs : Math.ceil(options.maxSteps / perEpoch)
  const steps: Array<StepPlan> = []
  for (let epoch = 0; epoch < epochs; epoch++) {
    const order = Effect.runSync(Random.shuffle(Array.from({ length: rows }, (_, i) => i)).pipe(Random.withSeed(`${options.seed}/${epoch}`)))
    const micro: Array<ReadonlyArray<number>> = []
    for (let i = 0; i < order.length; i += options.batchSize) micro.push(order.slice(i, i + options.batchSize))
    for (let i = 0; i < micro.length; i += options.accumulation) steps.push(micro.slice(i, i + options.accumulation))
  }
  return options.maxSteps === undefined ? steps : steps.slice(0, options.maxSteps)
}

/** The packed rows of a table, per column, as views into its buffers. */
export interface PackedRows {
  readonly inputIds: ReadonlyArray<Int32Array>
  readonly labels: ReadonlyArray<Int32Array>
  readonly positionIds: ReadonlyArray<Int32Array>
  readonly seqLengths: ReadonlyArray<Int32Array>
}

/** Decodes the columns of a table (or of one of its batches) once, so that each step's batches only copy. */
export const readPackedRows = (table: PackedTable | arrow.RecordBatch<ColumnsOf<typeof packedSchema>>): PackedRows => ({
  inputIds: int32ListRows(table.getChild("input_ids")!),
  labels: int32ListRows(table.getChild("labels")!),
  positionIds: int32ListRows(table.getChild("position_ids")!),
  seqLengths: int32ListRows(table.getChild("seq_lengths")!)
})

/** The packed rows `rows` as one flattened batch. */
export const makeBatch = (packed: PackedRows, rows: ReadonlyArray<number>): Batch => {
  const column = (lists: ReadonlyArray<Int32Array>) => concat(rows.map((row) => lists[row]!))
  const lengths = column(packed.seqLengths)
  const cuSeqlens = new Int32Array(lengths.length + 1)
  lengths.forEach((length, i) => (cuSeqlens[i + 1] = cuSeqlens[i]! + length))
  return { inputIds: column(packed.inputIds), labels: column(packed.labels), positionIds: column(packed.positionIds), cuSeqlens }
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
