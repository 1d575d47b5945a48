/**
 * The train stage's packed rows read from the stored table on demand, so a training set larger
 * than memory trains: the rows of each micro-batch come from the record batches that hold them,
 * the last few of which stay decoded (consecutive rows of a shuffled epoch hit few batches each).
 */
import type { Batch } from "../../native/index.ts"
import type { TableReader } from "../../src/index.ts"
import type { ColumnsOf } from "../../src/index.ts"
import type { packedSchema } from "../schemas/packed.ts"
import type { PackedRows } from "./batches.ts"
import { makeBatch, readPackedRows } from "./batches.ts"

type PackedColumns = ColumnsOf<typeof packedSchema>

/** Decoded record batches kept at once: 8 of about 2^20 tokens each (pack's batches) is ~128 MiB. */
const cachedBatches = 8

/** Packed rows by index over a streamed table. */
export class PackedSource {
  private readonly cache = new Map<number, PackedRows>()

  private constructor(
    private readonly access: Awaited<ReturnType<TableReader<PackedColumns>["randomAccess"]>>,
    /** `starts[b]` is the first row of batch b; the last entry is the row count. */
    private readonly starts: ReadonlyArray<number>
  ) {}

  /** Counts the rows of every batch (one pass) and opens the table for random reads. */
  static async open(reader: TableReader<PackedColumns>): Promise<PackedSource> {
    const starts = [0]
    for await (const batch of reader.batches()) starts.push(starts.at(-1)! + batch.numRows)
    return new PackedSource(await reader.randomAccess(), starts)
  }

  get numRows(): number {
    return this.starts.at(-1)!
  }

  /** The rows `rows` as one flattened batch, as `makeBatch` builds it from a table in memory. */
  async batch(rows: ReadonlyArray<number>): Promise<Batch> {
    const picked: { inputIds: Array<Int32Array>; labels: Array<Int32Array>; positionIds: Array<Int32Array>; seqLengths: Array<Int32Array> } = {
      inputIds: [],
      labels: [],
      positionIds: [],
      seqLengths: []
    }
    for (const row of rows) {
      const index = this.batchOf(row)
      const packed = await this.decoded(index)
      const at = row - this.starts[index]!
      picked.inputIds.push(packed.inputIds[at]!)
      picked.labels.push(packed.labels[at]!)
      picked.positionIds.push(packed.positionIds[at]!)
      picked.seqLengths.push(packed.seqLengths[at]!)
    }
    return makeBatch(picked, rows.map((_, i) => i))
  }

  close(): Promise<void> {
    return this.access.close()
  }

  private batchOf(row: number): number {
    let lo = 0
    let hi = this.starts.length - 2
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1
      if (this.starts[mid]! <= row) lo = mid
      else hi = mid - 1
    }
    return lo
  }

  private async decoded(index: number): Promise<PackedRows> {
    const hit = this.cache.get(index)
    if (hit !== undefined) {
      // Most recently used last: the Map's first key is the one to evict.
      this.cache.delete(index)
      this.cache.set(index, hit)
      return hit
    }
    const rows = readPackedRows(await this.access.read(index))
    this.cache.set(index, rows)
    if (this.cache.size > cachedBatches) this.cache.delete(this.cache.keys().next().value!)
    return rows
  }
}
