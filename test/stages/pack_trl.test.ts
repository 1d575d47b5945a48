/**
 * Packing against TRL (the oracle): `pack_dataset(strategy="bfd")` followed by the padding-free
 * `DataCollatorForLanguageModeling`, i.e. exactly the rows TRL's SFT trainer trains on. Our rows are
 * TRL's bins in a seeded order, so rows are compared as sets; within a row, documents and tokens in order.
 */
import { Effect, Random, Schema } from "effect"
import { join } from "node:path"
import { beforeAll, expect, it } from "vitest"
import type { Document, PackedColumns } from "../../stages/pack.ts"
import { PackConfig, packDocuments } from "../../stages/pack.ts"
import { describeOracle, runOracle } from "../support/oracle.ts"

interface Row {
  readonly input_ids: Array<number>
  readonly labels: Array<number>
  readonly position_ids: Array<number>
  readonly seq_lengths: Array<number>
}

interface Case {
  readonly seqLength: number
  readonly documents: ReadonlyArray<Document>
}

const trl = (cases: ReadonlyArray<Case>): Array<Array<Row>> =>
  JSON.parse(
    runOracle(
      join(import.meta.dirname, "oracle", "trl_pack.py"),
      [],
      JSON.stringify(cases.map((c) => ({
        seq_length: c.seqLength,
        input_ids: c.documents.map((doc) => [...doc.inputIds]),
        labels: c.documents.map((doc) => [...doc.labels])
      })))
    )
  )

const ours = (c: Case, seed: number): Array<Row> => {
  const { columns } = Effect.runSync(
    packDocuments(c.documents, Schema.decodeUnknownSync(PackConfig)({ maxSeqLength: c.seqLength, dataSeed: seed }), 0)
  )
  return rowsOf(columns)
}

const rowsOf = (c: PackedColumns): Array<Row> =>
  Array.from({ length: c.offsets.length - 1 }, (_, r) => {
    const [start, end] = [c.offsets[r]!, c.offsets[r + 1]!]
    return {
      input_ids: [...c.inputIds.subarray(start, end)],
      labels: [...c.labels.subarray(start, end)],
      position_ids: [...c.positionIds.subarray(start, end)],
      seq_lengths: [...c.seqLengths.subarray(c.seqLengthOffsets[r]!, c.seqLengthOffsets[r + 1]!)]
    }
  })

/** Rows in a canonical order: our rows are shuffled by the seed, TRL's are in bin creation order. */
const sorted = (rows: Array<Row>): Array<Row> =>
  [...rows].sort((a, b) => (JSON.stringify(a.input_ids) < JSON.stringify(b.input_ids) ? -1 : 1))

/** Documents of the given lengths with random tokens, and labels masked over a random prompt. */
const documentsOf = (lengths: ReadonlyArray<number>, seed: string): Array<Document> =>
  Effect.runSync(
    Effect.forEach(lengths, (length, d) =>
      Effect.gen(function*() {
        const promptLength = yield* Random.nextIntBetween(0, length)
        const inputIds = new Int32Array(length)
        for (let t = 0; t < length; t++) inputIds[t] = t === 0 ? 100_000 + d : yield* Random.nextIntBetween(0, 32_000)
        const labels = inputIds.map((id, t) => (t < promptLength ? -100 : id))
        return { inputIds, labels, source: `row ${d}` }
      })).pipe(Random.withSeed(seed))
  )

/** `count` distinct lengths in [1, seqLength], so no tie order is involved. */
const distinctLengths = (count: number, seqLength: number, seed: string): Array<number> =>
  Effect.runSync(Random.shuffle(Array.from({ length: seqLength }, (_, i) => i + 1)).pipe(Random.withSeed(seed))).slice(0, count)

/** Lengths from a small set, so many documents tie. */
const tiedLengths = (count: number, seqLength: number, seed: string): Array<number> =>
  Effect.runSync(
    Effect.forEach(Array.from({ length: count }), () =>
      Random.nextIntBetween(1, 6).pipe(Effect.map((k) => Math.max(1, Math.floor((k * seqLength) / 7))))).pipe(
        Random.withSeed(seed)
      )
  )

describeOracle("pack against TRL pack_dataset(bfd) + padding-free collator", () => {
  const distinct: Array<Case> = [
    { seqLength: 64, count: 40 },
    { seqLength: 200, count: 150 },
    { seqLength: 512, count: 300 },
    { seqLength: 1000, count: 37 }
  ].map(({ seqLength, count }) => ({
    seqLength,
    documents: documentsOf(distinctLengths(count, seqLength, `d${seqLength}`), `t${seqLength}`)
  }))
  const tied: Array<Case> = [64, 300, 777].map((seqLength) => ({
    seqLength,
    documents: documentsOf(tiedLengths(400, seqLength, `l${seqLength}`), `u${seqLength}`)
  }))
  let reference: Array<Array<Row>> = []
  beforeAll(() => {
    reference = trl([...distinct, ...tied])
  })

  it.each(distinct.map((c, i) => [c.seqLength, c.documents.length, i] as const))(
    "distinct lengths, bins of %i, %i documents: the same rows, labels and position ids",
    (_, __, i) => {
      expect(sorted(ours(distinct[i]!, 1))).toEqual(sorted(reference[i]!))
      expect(sorted(ours(distinct[i]!, 2))).toEqual(sorted(reference[i]!))
    }
  )

  it.each(tied.map((c, i) => [c.seqLength, i] as const))(
    "400 documents with tied lengths into bins of %i: the same rows (equal lengths in input order, as TRL)",
    (_, i) => {
      expect(sorted(ours(tied[i]!, 1))).toEqual(sorted(reference[distinct.length + i]!))
      expect(sorted(ours(tied[i]!, 2))).toEqual(sorted(reference[distinct.length + i]!))
    }
  )
})
