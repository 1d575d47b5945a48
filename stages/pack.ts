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
 *
 * The stage streams: it holds the documents' lengths and the bins, not the tokens (`packStream`);
 * `packDocuments` is the same packing in memory.
 */
import { closeSync, openSync, readSync, rmSync, writeSync } from "node:fs"
import { join } from "node:path"
import * as arrow from "apache-arrow"
import { Effect, Random, Schema } from "effect"
import { defineStage, StageFailure, StreamedTable, tableFrom, TableWriter, withDefault } from "../src/index.ts"
import type { TableFile, TableReader } from "../src/index.ts"
import { int32ListFromOffsets, int32ListRows } from "./schemas/int32Lists.ts"
import { packedSchema } from "./schemas/packed.ts"
import type { PackedTable } from "./schemas/packed.ts"
import { countTrained, ignoreIndex, tokenizedSchema } from "./schemas/tokenized.ts"
import type { TokenizedColumns, TokenizedRow } from "./schemas/tokenized.ts"

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

/** Concatenates the documents of each bin (`documentOf` gives each by index) into one row. */
const assembleRows = (
  bins: ReadonlyArray<ReadonlyArray<number>>,
  documentOf: (index: number) => Pick<Document, "inputIds" | "labels">
): PackedColumns => {
  let total = 0
  let longest = 0
  let documents = 0
  for (const bin of bins) {
    for (const index of bin) {
      const length = documentOf(index).inputIds.length
      total += length
      longest = Math.max(longest, length)
      documents++
    }
  }
  const offsets = new Int32Array(bins.length + 1)
  const inputIds = new Int32Array(total)
  const labels = new Int32Array(total)
  const positionIds = new Int32Array(total)
  const seqLengthOffsets = new Int32Array(bins.length + 1)
  const seqLengths = new Int32Array(documents)
  // Every document's positions are a prefix of 0, 1, 2, ...: copied, not counted token by token.
  const ramp = Int32Array.from({ length: longest }, (_, t) => t)
  let at = 0
  let docAt = 0
  for (let row = 0; row < bins.length; row++) {
    for (const index of bins[row]!) {
      const doc = documentOf(index)
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

/** Why document `index` cannot be packed, if it cannot. `source` is asked for only then. */
const documentProblem = (
  index: number,
  source: () => string,
  tokens: number,
  labels: number,
  maxSeqLength: number
): string | undefined => {
  const where = () => `tokens row ${index} (${source()})`
  if (labels !== tokens) return `${where()}: ${labels} labels for ${tokens} input_ids`
  if (tokens === 0) return `${where()}: no tokens`
  if (tokens > maxSeqLength) {
    return `${where()}: ${tokens} tokens > maxSeqLength ${maxSeqLength}; tokenize must truncate or drop it (set the same maxSeqLength there)`
  }
  return undefined
}

/** The rows' bins: best-fit-decreasing, or one document per row in input order. */
const binsOf = (lengths: ReadonlyArray<number>, config: PackConfig, seed: number): Array<Array<number>> =>
  config.packing ? planBins(lengths, config.maxSeqLength, config.dataSeed ?? seed) : lengths.map((_, index) => [index])

const packMetrics = (rows: number, documents: number, tokens: number, trainedTokens: number, maxSeqLength: number) => ({
  rows,
  documents,
  tokens,
  trainedTokens,
  packingEfficiency: rows === 0 ? 0 : tokens / (rows * maxSeqLength)
})

/** Checks the documents, packs them (or not) and measures the result, all in memory. */
export const packDocuments = (
  documents: ReadonlyArray<Document>,
  config: PackConfig,
  seed: number
): Effect.Effect<Packed, StageFailure> =>
  Effect.gen(function*() {
    for (const [index, doc] of documents.entries()) {
      const problem = documentProblem(index, () => doc.source, doc.inputIds.length, doc.labels.length, config.maxSeqLength)
      if (problem !== undefined) return yield* failure(problem)
    }
    const bins = binsOf(documents.map((doc) => doc.inputIds.length), config, seed)
    const columns = assembleRows(bins, (index) => documents[index]!)
    const metrics = packMetrics(bins.length, documents.length, columns.inputIds.length, countTrained(columns.labels), config.maxSeqLength)
    return { columns, metrics }
  })

/** Packed rows per stored batch: about 2^20 tokens (16 MiB of columns), fixed by the config alone. */
const rowsPerBatch = (maxSeqLength: number): number => Math.max(1, Math.floor(2 ** 20 / maxSeqLength))

/** A growable Int32Array. */
class Int32Column {
  values = new Int32Array(1024)
  length = 0

  push(value: number): void {
    if (this.length === this.values.length) {
      const grown = new Int32Array(this.values.length * 2)
      grown.set(this.values)
      this.values = grown
    }
    this.values[this.length++] = value
  }
}

const lengthsOf = (column: arrow.Vector<arrow.List<arrow.Int32>>): Array<number> =>
  column.data.flatMap((data) => Array.from({ length: data.length }, (_, row) => data.valueOffsets[row + 1]! - data.valueOffsets[row]!))

const writeAll = (fd: number, values: Int32Array, position: number): void => {
  const bytes = new Uint8Array(values.buffer, values.byteOffset, values.byteLength)
  let done = 0
  while (done < bytes.byteLength) done += writeSync(fd, bytes, done, bytes.byteLength - done, position + done)
}

const readAll = (fd: number, tokens: number, position: number): Int32Array => {
  const values = new Int32Array(tokens)
  const bytes = new Uint8Array(values.buffer)
  let done = 0
  while (done < bytes.byteLength) {
    const read = readSync(fd, bytes, done, bytes.byteLength - done, position + done)
    if (read === 0) throw new Error("pack: scratch file ended early")
    done += read
  }
  return values
}

/**
 * Packs a streamed tokens table in three passes, holding the lengths and the bins, never the
 * tokens: (1) read the lengths (a batch's list offsets) and check every document; (2) plan the
 * bins, and scatter each document's tokens, in input order, to its place in output order in two
 * scratch files; (3) read the scratch files in order, a stored batch of rows at a time, and write
 * the rows.
 */
const packStream = (
  reader: TableReader<TokenizedColumns>,
  tmpDir: string,
  config: PackConfig,
  seed: number,
  progress: (done: number, total: number) => void
): Effect.Effect<{ readonly file: TableFile; readonly metrics: Readonly<Record<string, number>> }, StageFailure> =>
  Effect.gen(function*() {
    const lengths = new Int32Column()
    yield* forEachBatch(reader, (batch) => {
      const ids = lengthsOf(batch.getChild("input_ids")!)
      const labels = lengthsOf(batch.getChild("labels")!)
      ids.forEach((tokens, row) => {
        const index = lengths.length
        const problem = documentProblem(index, () => batch.getChild("source")!.get(row)!, tokens, labels[row]!, config.maxSeqLength)
        if (problem !== undefined) throw new Error(problem)
        lengths.push(tokens)
      })
    }, (done, all) => progress(done, 2 * all))
    const documentLengths = Array.from(lengths.values.subarray(0, lengths.length))
    const bins = binsOf(documentLengths, config, seed)
    // Where each document's tokens start in output order (in tokens; past 2^31 for big datasets).
    const start = new Float64Array(documentLengths.length)
    let total = 0
    for (const bin of bins) {
      for (const index of bin) {
        start[index] = total
        total += documentLengths[index]!
      }
    }
    const idsPath = join(tmpDir, "pack-input_ids.bin")
    const labelsPath = join(tmpDir, "pack-labels.bin")
    const idsFd = openSync(idsPath, "w+")
    const labelsFd = openSync(labelsPath, "w+")
    return yield* Effect.gen(function*() {
      let index = 0
      yield* forEachBatch(reader, (batch) => {
        const ids = int32ListRows(batch.getChild("input_ids")!)
        const labels = int32ListRows(batch.getChild("labels")!)
        ids.forEach((row, r) => {
          writeAll(idsFd, row, start[index]! * 4)
          writeAll(labelsFd, labels[r]!, start[index]! * 4)
          index++
        })
      }, (done, all) => progress(all + done, 2 * all))
      let trainedTokens = 0
      const build = (rows: ReadonlyArray<ReadonlyArray<number>>): PackedTable => {
        const first = rows[0]?.[0]
        const from = first === undefined ? 0 : start[first]!
        const tokens = rows.reduce((sum, bin) => sum + bin.reduce((n, i) => n + documentLengths[i]!, 0), 0)
        const ids = readAll(idsFd, tokens, from * 4)
        const labels = readAll(labelsFd, tokens, from * 4)
        const columns = assembleRows(rows, (i) => {
          const at = start[i]! - from
          const length = documentLengths[i]!
          return { inputIds: ids.subarray(at, at + length), labels: labels.subarray(at, at + length) }
        })
        trainedTokens += countTrained(columns.labels)
        return toPackedTable(columns)
      }
      const writer = new TableWriter(tmpDir, packedSchema, build, rowsPerBatch(config.maxSeqLength))
      writer.append(bins)
      const file = writer.finish()
      return { file, metrics: packMetrics(bins.length, documentLengths.length, total, trainedTokens, config.maxSeqLength) }
    }).pipe(Effect.ensuring(Effect.sync(() => {
      closeSync(idsFd)
      closeSync(labelsFd)
      rmSync(idsPath, { force: true })
      rmSync(labelsPath, { force: true })
    })))
  }).pipe(
    Effect.catchDefect((defect) => Effect.fail(failure(defect instanceof Error ? defect.message : String(defect))))
  )

/** Calls `each` on every batch of `reader` in order; `progress` gets batches done and the table's batches. */
const forEachBatch = <T extends arrow.TypeMap>(
  reader: TableReader<T>,
  each: (batch: arrow.RecordBatch<T>) => void,
  progress?: (done: number, total: number) => void
): Effect.Effect<void, StageFailure> =>
  Effect.tryPromise({
    try: async () => {
      let done = 0
      for await (const batch of reader.batches()) {
        each(batch)
        progress?.(++done, reader.numBatches)
      }
    },
    catch: (error) => failure(error instanceof Error ? error.message : String(error))
  })

/** The pack stage: `tokens` → `packed`. */
export const pack = defineStage({
  name: "pack",
  module: import.meta.url,
  reads: (config) => (config.dataSeed === undefined ? ["seed"] : []),
  config: PackConfig,
  inputs: { tokens: StreamedTable(tokenizedSchema) },
  outputs: { packed: StreamedTable(packedSchema) },
  run: (ctx) =>
    packStream(ctx.inputs.tokens, ctx.tmpDir, ctx.config, ctx.config.dataSeed ?? ctx.seed, ctx.progress).pipe(
      Effect.map(({ file, metrics }) => ({ outputs: { packed: file }, metrics }))
    )
})
