/**
 * `TableReader`: a stored Arrow IPC table read one record batch at a time, so a stage's memory is
 * one batch, not the table. The engine verifies the file's digest before a stage gets its reader.
 */
import { open } from "node:fs/promises"
import * as arrow from "apache-arrow"

/** A table file, readable batch by batch as many times as a stage needs (pack reads twice). */
export class TableReader<T extends arrow.TypeMap = any> {
  private constructor(
    readonly path: string,
    readonly schema: arrow.Schema<T>,
    /** Record batches in the file. */
    readonly numBatches: number
  ) {}

  /** Reads the file's footer: its schema and where its batches are. */
  static async open<T extends arrow.TypeMap = any>(path: string): Promise<TableReader<T>> {
    const reader = await openFile<T>(path)
    try {
      return new TableReader(path, reader.schema, reader.numRecordBatches)
    } finally {
      await reader.cancel()
    }
  }

  /** The record batches in file order, each read from disk when the previous one is done with. */
  async *batches(): AsyncGenerator<arrow.RecordBatch<T>> {
    const reader = await openFile<T>(this.path)
    try {
      // A file reader iterates the batches its footer lists, in order.
      for await (const batch of reader) yield batch
    } finally {
      await reader.cancel()
    }
  }

  /** The first `rows` rows (fewer if the table is shorter), reading no more batches than they need. */
  async head(rows: number): Promise<arrow.Table<T>> {
    const batches: Array<arrow.RecordBatch<T>> = []
    let held = 0
    // Stops as soon as it holds enough rows: one more turn would read the next batch first.
    if (rows > 0) {
      for await (const batch of this.batches()) {
        batches.push(batch)
        held += batch.numRows
        if (held >= rows) break
      }
    }
    const table = new arrow.Table(this.schema, batches)
    // (arrow's slice fails on a table of no batches)
    return held > rows ? table.slice(0, rows) : table
  }

  /**
   * Random access to the batches, one read from disk per `read` (a trainer's shuffled rows);
   * `close` releases the file.
   */
  async randomAccess(): Promise<{
    readonly read: (index: number) => Promise<arrow.RecordBatch<T>>
    readonly close: () => Promise<void>
  }> {
    const reader = await openFile<T>(this.path)
    return {
      read: async (index) => {
        const batch = await reader.readRecordBatch(index)
        if (batch === null) throw new Error(`${this.path}: no record batch ${index} (of ${this.numBatches})`)
        return batch
      },
      close: () => reader.cancel()
    }
  }

  /** Rows in the table, counted batch by batch (a pass over the file). */
  async numRows(): Promise<number> {
    let rows = 0
    for await (const batch of this.batches()) rows += batch.numRows
    return rows
  }

  /** The whole table in memory: for small tables. */
  async readAll(): Promise<arrow.Table<T>> {
    const batches: Array<arrow.RecordBatch<T>> = []
    for await (const batch of this.batches()) batches.push(batch)
    return new arrow.Table(this.schema, batches)
  }
}

const openFile = async <T extends arrow.TypeMap>(path: string): Promise<arrow.AsyncRecordBatchFileReader<T>> => {
  const handle = await open(path, "r")
  try {
    const reader = await arrow.RecordBatchReader.from<T>(handle)
    if (!(reader instanceof arrow.AsyncRecordBatchFileReader)) throw new Error("not in the IPC file format")
    return await reader.open()
  } catch (error) {
    await handle.close()
    throw new Error(`${path}: not an Arrow IPC file: ${error instanceof Error ? error.message : String(error)}`)
  }
}
