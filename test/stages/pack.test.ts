import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Effect, Random, Schema } from "effect"
import { describe, expect, it } from "vitest"
import { TableReader } from "../../src/TableReader.ts"
import { TableWriter } from "../../src/TableWriter.ts"
import type { Document, PackedColumns } from "../../stages/pack.ts"
import { pack, PackConfig, packDocuments, packedSchema, planBins, toPackedTable } from "../../stages/pack.ts"
import type { TokenizedColumns } from "../../stages/schemas/tokenized.ts"
import { tokenizedSchema, toTokenizedTable } from "../../stages/tokenize.ts"
import { fieldShapes, ipcRoundTrip } from "../support/arrow.ts"

const IGNORE = -100

const config = (partial: Record<string, unknown>) => Schema.decodeUnknownSync(PackConfig)(partial)
const packed = (documents: ReadonlyArray<Document>, partial: Record<string, unknown>, seed = 0) =>
  Effect.runSync(packDocuments(documents, config(partial), seed))
const failure = (documents: ReadonlyArray<Document>, partial: Record<string, unknown>) =>
  Effect.runSync(Effect.flip(packDocuments(documents, config(partial), 0))).message

/**
 * Random documents; doc d's first token is 1_000_000 + d so every packed document can be traced
 * back to its source. Labels mix trained and masked tokens, including a trained first token.
 */
const randomDocuments = (seed: number, count: number, maxLength: number): Array<Document> =>
  Effect.runSync(
    Effect.gen(function*() {
      const documents: Array<Document> = []
      for (let d = 0; d < count; d++) {
        const length = yield* Random.nextIntBetween(1, maxLength)
        const inputIds = new Int32Array(length)
        const labels = new Int32Array(length)
        const promptLength = yield* Random.nextIntBetween(0, length)
        for (let t = 0; t < length; t++) {
          inputIds[t] = t === 0 ? 1_000_000 + d : yield* Random.nextIntBetween(0, 50_000)
          labels[t] = t < promptLength ? IGNORE : inputIds[t]!
        }
        documents.push({ inputIds, labels, source: `data.jsonl:${d + 1}` })
      }
      return documents
    }).pipe(Random.withSeed(seed))
  )

interface Row {
  readonly inputIds: Int32Array
  readonly labels: Int32Array
  readonly positionIds: Int32Array
  readonly seqLengths: Int32Array
}

const rowsOf = (columns: PackedColumns): Array<Row> =>
  Array.from({ length: columns.offsets.length - 1 }, (_, r) => {
    const [start, end] = [columns.offsets[r]!, columns.offsets[r + 1]!]
    return {
      inputIds: columns.inputIds.subarray(start, end),
      labels: columns.labels.subarray(start, end),
      positionIds: columns.positionIds.subarray(start, end),
      seqLengths: columns.seqLengths.subarray(columns.seqLengthOffsets[r]!, columns.seqLengthOffsets[r + 1]!)
    }
  })

/** Splits packed rows back into documents, keyed by their traced source index. */
const unpack = (columns: PackedColumns) => {
  const documents = new Map<number, { inputIds: Array<number>; labels: Array<number>; positionIds: Array<number> }>()
  for (const row of rowsOf(columns)) {
    let at = 0
    for (const length of row.seqLengths) {
      const d = row.inputIds[at]! - 1_000_000
      expect(documents.has(d), `document ${d} packed twice`).toBe(false)
      documents.set(d, {
        inputIds: [...row.inputIds.subarray(at, at + length)],
        labels: [...row.labels.subarray(at, at + length)],
        positionIds: [...row.positionIds.subarray(at, at + length)]
      })
      at += length
    }
  }
  return documents
}

/** Bin totals of a plain best-fit-decreasing written as the textbook loop (quadratic, obviously right). */
const referenceBinTotals = (lengths: ReadonlyArray<number>, capacity: number): Array<number> => {
  const totals: Array<number> = []
  for (const length of [...lengths].sort((a, b) => b - a)) {
    let best = -1
    totals.forEach((total, bin) => {
      if (total + length <= capacity && (best < 0 || total > totals[best]!)) best = bin
    })
    if (best < 0) totals.push(length)
    else totals[best]! += length
  }
  return totals.sort((a, b) => a - b)
}

describe("pack: properties over random inputs", () => {
  const cases = Array.from({ length: 60 }, (_, i) => ({
    seed: i,
    count: (i * 37) % 151,
    maxSeqLength: 1 + ((i * 97) % 300)
  }))

  it.each(cases)("seed $seed: $count documents into bins of $maxSeqLength", ({ seed, count, maxSeqLength }) => {
    const documents = randomDocuments(seed, count, maxSeqLength)
    const result = packed(documents, { maxSeqLength, dataSeed: seed })
    const rows = rowsOf(result.columns)
    for (const row of rows) {
      expect(row.inputIds.length).toBeLessThanOrEqual(maxSeqLength)
      expect(row.seqLengths.reduce((a, b) => a + b, 0)).toBe(row.inputIds.length)
    }
    const unpacked = unpack(result.columns)
    expect(unpacked.size).toBe(documents.length)
    documents.forEach((doc, d) => {
      const out = unpacked.get(d)!
      expect(out.inputIds).toEqual([...doc.inputIds])
      expect(out.positionIds).toEqual([...doc.inputIds.keys()])
      // every trained token keeps its label at its position; only each document's first label is masked
      expect(out.labels).toEqual([IGNORE, ...doc.labels.subarray(1)])
    })
    const trained = documents.reduce((sum, doc) => sum + doc.labels.subarray(1).filter((l) => l !== IGNORE).length, 0)
    const tokens = documents.reduce((sum, doc) => sum + doc.inputIds.length, 0)
    expect(result.metrics).toEqual({
      rows: rows.length,
      documents: documents.length,
      tokens,
      trainedTokens: trained,
      packingEfficiency: rows.length === 0 ? 0 : tokens / (rows.length * maxSeqLength)
    })
    const totals = rows.map((row) => row.inputIds.length).sort((a, b) => a - b)
    expect(totals).toEqual(referenceBinTotals(documents.map((doc) => doc.inputIds.length), maxSeqLength))
  })
})

describe("pack: determinism and options", () => {
  const documents = randomDocuments(123, 200, 64)
  const lengths = documents.map((doc) => doc.inputIds.length)

  it("gives the same rows for the same seed and a different order for another", () => {
    expect(planBins(lengths, 128, 5)).toEqual(planBins(lengths, 128, 5))
    expect(planBins(lengths, 128, 6)).not.toEqual(planBins(lengths, 128, 5))
    const a = packed(documents, { maxSeqLength: 128, dataSeed: 5 })
    expect(packed(documents, { maxSeqLength: 128, dataSeed: 5 }).columns).toEqual(a.columns)
    expect(packed(documents, { maxSeqLength: 128 }, 5).columns).toEqual(a.columns)
  })

  it("packs well: efficient and exactly as many bins as best-fit-decreasing", () => {
    const { metrics } = packed(documents, { maxSeqLength: 128, dataSeed: 1 })
    const tokens = lengths.reduce((a, b) => a + b, 0)
    expect(metrics.rows).toBeGreaterThanOrEqual(Math.ceil(tokens / 128))
    expect(metrics.rows).toBe(referenceBinTotals(lengths, 128).length)
    expect(metrics.packingEfficiency).toBeGreaterThan(0.9)
  })

  it("keeps one example per row in input order with packing: false", () => {
    const result = packed(documents, { maxSeqLength: 64, packing: false })
    const rows = rowsOf(result.columns)
    expect(rows).toHaveLength(documents.length)
    rows.forEach((row, r) => {
      expect([...row.inputIds]).toEqual([...documents[r]!.inputIds])
      expect([...row.seqLengths]).toEqual([documents[r]!.inputIds.length])
    })
    expect(result.metrics.packingEfficiency).toBeCloseTo(lengths.reduce((a, b) => a + b, 0) / (200 * 64), 12)
  })

  it("fails clearly on a document longer than maxSeqLength, mismatched labels or no tokens", () => {
    const long = { inputIds: new Int32Array(10), labels: new Int32Array(10), source: "train.jsonl:17" }
    expect(failure([long], { maxSeqLength: 8 })).toBe(
      "tokens row 0 (train.jsonl:17): 10 tokens > maxSeqLength 8; tokenize must truncate or drop it (set the same maxSeqLength there)"
    )
    expect(failure([{ ...long, labels: new Int32Array(9) }], { maxSeqLength: 16 })).toContain("9 labels for 10 input_ids")
    expect(failure([{ ...long, inputIds: new Int32Array(0), labels: new Int32Array(0) }], { maxSeqLength: 16 }))
      .toContain("no tokens")
  })
})

describe("pack: table", () => {
  it("survives Arrow IPC with the declared schema and the packed values", () => {
    const documents = randomDocuments(9, 30, 40)
    const result = packed(documents, { maxSeqLength: 64, dataSeed: 3 })
    const table = ipcRoundTrip(toPackedTable(result.columns))
    expect(fieldShapes(table.schema)).toEqual(fieldShapes(packedSchema))
    const rows = rowsOf(result.columns)
    expect(table.numRows).toBe(rows.length)
    rows.forEach((row, r) => {
      expect([...table.getChild("input_ids")!.get(r)!.toArray()]).toEqual([...row.inputIds])
      expect([...table.getChild("labels")!.get(r)!.toArray()]).toEqual([...row.labels])
      expect([...table.getChild("position_ids")!.get(r)!.toArray()]).toEqual([...row.positionIds])
      expect([...table.getChild("seq_lengths")!.get(r)!.toArray()]).toEqual([...row.seqLengths])
    })
    expect(pack.name).toBe("pack")
  })
})

describe("pack: the stage", () => {
  it("reports progress over both passes of its input, up to done", async () => {
    const dir = mkdtempSync(join(tmpdir(), "pack-progress-"))
    try {
      const writer = new TableWriter(dir, tokenizedSchema, toTokenizedTable, 10)
      writer.append(randomDocuments(4, 30, 40))
      const reader = await TableReader.open<TokenizedColumns>(writer.finish().path)
      expect(reader.numBatches).toBe(3)
      const reported: Array<[number, number]> = []
      const ctx = {
        config: config({ maxSeqLength: 64 }),
        inputs: { tokens: reader },
        seed: 7,
        tmpDir: dir,
        progress: (done: number, total: number) => void reported.push([done, total]),
        log: () => undefined,
        scalars: () => undefined,
        sanity: false,
        workers: 1,
        batchSize: 10_000
      } as unknown as Parameters<typeof pack.run>[0]
      const result = await Effect.runPromise(Effect.scoped(pack.run(ctx)))
      expect(result.metrics?.documents).toBe(30)
      expect(reported).toEqual([[1, 6], [2, 6], [3, 6], [4, 6], [5, 6], [6, 6]])
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
