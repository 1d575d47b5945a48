/**
 * train's packed rows read on demand from a table of many record batches give the batches that
 * the same rows give from the table in memory, whatever order they are asked in (more batches than
 * the decoded ones kept, so evictions happen).
 */
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as arrow from "apache-arrow"
import { Effect } from "effect"
import { afterAll, describe, expect, it } from "vitest"
import { TableReader } from "../../src/TableReader.ts"
import { tableFrom } from "../../src/TableSchema.ts"
import { TableWriter } from "../../src/TableWriter.ts"
import { int32ListData } from "../../stages/schemas/int32Lists.ts"
import { packDocuments, packedSchema, toPackedTable } from "../../stages/pack.ts"
import { makeBatch, readPackedRows } from "../../stages/train/batches.ts"
import { PackedSource } from "../../stages/train/packedSource.ts"

const dir = mkdtempSync(join(tmpdir(), "packed-source-"))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

describe("train: packed rows from a streamed table", () => {
  it("gives makeBatch's batches for any rows, from 40 batches of 3 rows", async () => {
    const documents = Array.from({ length: 300 }, (_, d) => {
      const length = 1 + ((d * 37) % 50)
      const ids = Int32Array.from({ length }, (_, t) => (d * 131 + t * 7) % 1000)
      return { inputIds: ids, labels: ids.map((id, t) => (t % 3 === 0 ? -100 : id)), source: `d:${d}` }
    })
    const table = toPackedTable(Effect.runSync(packDocuments(documents, { maxSeqLength: 64, packing: true, dataSeed: 3 }, 0)).columns)
    const whole = readPackedRows(table)
    // The in-memory table's rows stored three to a batch.
    const column = (lists: ReadonlyArray<Int32Array>, rows: ReadonlyArray<number>) => arrow.makeVector(int32ListData(rows.map((r) => lists[r]!)))
    const writer = new TableWriter(dir, packedSchema, (rows: ReadonlyArray<number>) =>
      tableFrom(packedSchema, {
        input_ids: column(whole.inputIds, rows),
        labels: column(whole.labels, rows),
        position_ids: column(whole.positionIds, rows),
        seq_lengths: column(whole.seqLengths, rows)
      }), 3)
    writer.append(Array.from({ length: table.numRows }, (_, r) => r))
    const reader = await TableReader.open(writer.finish().path)
    expect(reader.numBatches).toBe(Math.ceil(table.numRows / 3))
    expect(reader.numBatches).toBeGreaterThan(8)
    const source = await PackedSource.open(reader)
    expect(source.numRows).toBe(table.numRows)
    const asks = [[0], [table.numRows - 1], [5, 0, 77, 3], Array.from({ length: table.numRows }, (_, r) => table.numRows - 1 - r), [40, 41, 2, 90, 1]]
    for (const rows of asks) expect(await source.batch(rows)).toEqual(makeBatch(whole, rows))
    await source.close()
  })
})
