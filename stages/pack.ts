/**
 * pack: tokenized examples → training rows of at most `maxSeqLength` tokens.
 *
 * Best-fit-decreasing as TRL's `pack_dataset(strategy="bfd")`: documents are placed longest first
 * (equal lengths in input order, as TRL's stable sort) into the open bin with the least room that
 * still fits (the oldest of equals), else a new bin, so the bins are TRL's, document for document;
 * they are then shuffled with the seed so rows do not come out sorted by length. `position_ids` restart at 0 in every document and
 * `seq_lengths` lists the documents of a row (the trainer builds `cu_seqlens` from it) so attention
 * never crosses a boundary; the first label of every document is -100 so a shifted loss never
 * scores a document's first token from the previous document's last one. `packing: false` keeps one
 * example per row, in input order.
 */
import * as arrow from "apache-arrow"
import { Effect, Random, Schema } from "effect"
import { defineStage, StageFailure, Table, tableFrom, withDefault } from "../src/index.ts"
import { int32ListFromOffsets } from "./schemas/int32Lists.ts"
import { packedSchema } from "./schemas/packed.ts"
import type { PackedTable } from "./schemas/packed.ts"
import { countTrained, ignoreIndex, readTokenizedRows, tokenizedSchema } from "./schemas/tokenized.ts"
import type { TokenizedRow } from "./schemas/tokenized.ts"

export { packedSchema } from "./schemas/packed.ts"

/** One tokenized example. */
export type Document = TokenizedRow

/** Rows as flat columns: row r spans values[offsets[r]..offsets[r+1]). */
export interface PackedColumns {
  readonly offsets: Int32Array
  readonly inputIds: Int32Array
  readonly labels: Int32Array
  readonly positionIds: Int32Array
  readonly seqLengthOffsets: Int32Array
  readonly seqLengths: Int32Array
}

/**
 * Open bins indexed by their free room, with a segment tree over room sizes that finds the
 * smallest room >= a length in O(log maxSeqLength). Written here because no dependency offers an
 * ordered multiset; a linear scan over bins would make packing quadratic. Among bins with the same
 * room the oldest is taken first, as TRL's BFD does, so equal inputs give TRL's bins.
 */
class BinsByRoom {
  private readonly size: number
  private readonly counts: Int32Array
  /** Per room, a FIFO queue of bins: `queues[room]` from index `heads[room]` on. */
  private readonly queues: Array<Array<number>>
  private readonly heads: Int32Array

  constructor(maxRoom: number) {
    this.size = 1 << Math.ceil(Math.log2(maxRoom + 1))
    this.counts = new Int32Array(2 * this.size)
    this.queues = Array.from({ length: maxRoom + 1 }, () => [])
    this.heads = new Int32Array(maxRoom + 1)
  }

  add(bin: number, room: number): void {
    this.queues[room]!.push(bin)
    for (let node = room + this.size; node >= 1; node >>= 1) this.counts[node]!++
  }

  /** Removes and returns the oldest bin with the least room >= `length`, if any. */
  takeBestFit(length: number): { bin: number; room: number } | undefined {
    const room = this.firstAtLeast(1, 0, this.size - 1, length)
    if (room < 0) return undefined
    const queue = this.queues[room]!
    const bin = queue[this.heads[room]!++]!
    if (this.heads[room] === queue.length) {
      queue.length = 0
      this.heads[room] = 0
    }
    for (let node = room + this.size; node >= 1; node >>= 1) this.counts[node]!--
    return { bin, room }
  }

  /** The smallest room >= `length` held by some bin under `node` (covering rooms lo..hi), or -1. */
  private firstAtLeast(node: number, lo: number, hi: number, length: number): number {
    if (hi < length || this.counts[node] === 0) return -1
    if (lo === hi) return lo
    const mid = (lo + hi) >> 1
    const left = this.firstAtLeast(2 * node, lo, mid, length)
    return left >= 0 ? left : this.firstAtLeast(2 * node + 1, mid + 1, hi, length)
  }
}

/**
 * Best-fit-decreasing bins of document indices (each bin's lengths sum to <= maxSeqLength),
 * in an order shuffled with `seed`. Every length must be in [1, maxSeqLength].
 */
export const planBins = (
  lengths: ReadonlyArray<number>,
  maxSeqLength: number,
  seed: number
): Array<Array<number>> =>
  Effect.runSync(
    Effect.gen(function*() {
      const order = [...lengths.keys()].sort((a, b) => lengths[b]! - lengths[a]! || a - b)
      const bins: Array<Array<number>> = []
      const open = new BinsByRoom(maxSeqLength)
      for (const doc of order) {
        const length = lengths[doc]!
        const fit = open.takeBestFit(length)
        const bin = fit?.bin ?? bins.push([]) - 1
        const room = (fit?.room ?? maxSeqLength) - length
        bins[bin]!.push(doc)
        if (room > 0) open.add(bin, room)
      }
      return yield* Random.shuffle(bins)
    }).pipe(Random.withSeed(seed))
  )

/** Concatenates the documents of each bin into one row. */
const assembleRows = (documents: ReadonlyArray<Document>, bins: ReadonlyArray<ReadonlyArray<number>>): PackedColumns => {
  let total = 0
  let longest = 0
  for (const doc of documents) {
    total += doc.inputIds.length
    longest = Math.max(longest, doc.inputIds.length)
  }
  const offsets = new Int32Array(bins.length + 1)
  const inputIds = new Int32Array(total)
  const labels = new Int32Array(total)
  const positionIds = new Int32Array(total)
  const seqLengthOffsets = new Int32Array(bins.length + 1)
  const seqLengths = new Int32Array(bins.reduce((sum, bin) => sum + bin.length, 0))
  // Every document's positions are a prefix of 0, 1, 2, ...: copied, not counted token by token.
  const ramp = Int32Array.from({ length: longest }, (_, t) => t)
  let at = 0
  let docAt = 0
  for (let row = 0; row < bins.length; row++) {
    for (const index of bins[row]!) {
      const doc = documents[index]!
      const length = doc.inputIds.length
      inputIds.set(doc.inputIds, at)
      labels.set(doc.labels, at)
      labels[at] = ignoreIndex
      positionIds.set(ramp.subarray(0, length), at)
      seqLengths[docAt++] = length
      at += length
    }
    offsets[row + 1] = at
    seqLengthOffsets[row + 1] = docAt
  }
  return { offsets, inputIds, labels, positionIds, seqLengthOffsets, seqLengths }
}

const listVector = (offsets: Int32Array, values: Int32Array) => arrow.makeVector(int32ListFromOffsets(offsets, values))

/** The table for {@link packedSchema}. */
export const toPackedTable = (columns: PackedColumns): PackedTable =>
  tableFrom(packedSchema, {
    input_ids: listVector(columns.offsets, columns.inputIds),
    labels: listVector(columns.offsets, columns.labels),
    position_ids: listVector(columns.offsets, columns.positionIds),
    seq_lengths: listVector(columns.seqLengthOffsets, columns.seqLengths)
  })

/** The pack stage's config. */
export const PackConfig = Schema.Struct({
  maxSeqLength: Schema.Int.check(Schema.isGreaterThanOrEqualTo(1)),
  packing: Schema.Boolean.pipe(withDefault(true)),
  /** Seed of the bin shuffle; defaults to the stage seed (derived from the run seed). */
  dataSeed: Schema.optionalKey(Schema.Int.check(Schema.isGreaterThanOrEqualTo(0)))
})

/** The decoded config. */
export type PackConfig = typeof PackConfig.Type

/** Packed rows and what they say about the packing. */
export interface Packed {
  readonly columns: PackedColumns
  readonly metrics: Readonly<Record<string, number>>
}

const failure = (message: string) => new StageFailure({ stage: "pack", message })

/** Checks the documents, packs them (or not) and measures the result. */
export const packDocuments = (
  documents: ReadonlyArray<Document>,
  config: PackConfig,
  seed: number
): Effect.Effect<Packed, StageFailure> =>
  Effect.gen(function*() {
    for (const [index, doc] of documents.entries()) {
      const where = `tokens row ${index} (${doc.source})`
      if (doc.labels.length !== doc.inputIds.length) {
        return yield* failure(`${where}: ${doc.labels.length} labels for ${doc.inputIds.length} input_ids`)
      }
      if (doc.inputIds.length === 0) return yield* failure(`${where}: no tokens`)
      if (doc.inputIds.length > config.maxSeqLength) {
        return yield* failure(
          `${where}: ${doc.inputIds.length} tokens > maxSeqLength ${config.maxSeqLength}; ` +
            `tokenize must truncate or drop it (set the same maxSeqLength there)`
        )
      }
    }
    const bins = config.packing
      ? planBins(documents.map((doc) => doc.inputIds.length), config.maxSeqLength, config.dataSeed ?? seed)
      : documents.map((_, index) => [index])
    const columns = assembleRows(documents, bins)
    const tokens = columns.inputIds.length
    const trainedTokens = countTrained(columns.labels)
    return {
      columns,
      metrics: {
        rows: bins.length,
        documents: documents.length,
        tokens,
        trainedTokens,
        packingEfficiency: bins.length === 0 ? 0 : tokens / (bins.length * config.maxSeqLength)
      }
    }
  })

/** The pack stage: `tokens` → `packed`. */
export const pack = defineStage({
  name: "pack",
  module: import.meta.url,
  reads: (config) => (config.dataSeed === undefined ? ["seed"] : []),
  config: PackConfig,
  inputs: { tokens: Table(tokenizedSchema) },
  outputs: { packed: Table(packedSchema) },
  run: (ctx) =>
    Effect.gen(function*() {
      const packed = yield* packDocuments(readTokenizedRows(ctx.inputs.tokens), ctx.config, ctx.config.dataSeed ?? ctx.seed)
      return { outputs: { packed: toPackedTable(packed.columns) }, metrics: packed.metrics }
    })
})
