/**
 * `TableWriter`: a table written to an Arrow IPC file one record batch at a time, so a stage's
 * output never has to fit in memory as one table.
 *
 * Rows are buffered and cut into record batches of exactly `rowsPerBatch` rows (the last one
 * shorter), whatever sizes they are appended in: the file's bytes, and so its digest, depend on
 * the rows alone, never on how a stage grouped its work (its batch size or worker count).
 */
import { closeSync, openSync, writeSync } from "node:fs"
import { join } from "node:path"
import * as arrow from "apache-arrow"
import { schemaMismatch } from "./SchemaMismatch.ts"

/** A finished table file under a stage's `tmpDir`, returned as a table output. */
export interface TableFile<T extends arrow.TypeMap = any> {
  readonly _tag: "TableFile"
  readonly path: string
  readonly schema: arrow.Schema<T>
  readonly numRows: number
}

/** Whether `value` is a {@link TableFile}. */
export const isTableFile = (value: unknown): value is TableFile =>
  typeof value === "object" && value !== null && (value as { _tag?: unknown })._tag === "TableFile"

/** Rows per stored record batch unless a stage says otherwise. */
export const defaultRowsPerBatch = 1024

/**
 * The writer's byte sink: arrow's writer accepts an AsyncByteQueue as its sink, so this one writes
 * every chunk to the file as it comes instead of queueing it in memory.
 */
class FileSink extends arrow.AsyncByteQueue {
  constructor(private readonly fd: number) {
    super()
  }

  // arrow's writer hands its sink Uint8Arrays only.
  override write(bytes: Uint8Array): void {
    let at = 0
    while (at < bytes.byteLength) at += writeSync(this.fd, bytes, at, bytes.byteLength - at)
  }
}

let files = 0

/** Appends rows of type `R`, built into record batches by `build`, to one Arrow IPC file. */
export class TableWriter<T extends arrow.TypeMap, R> {
  private readonly fd: number
  private readonly writer = new arrow.RecordBatchFileWriter<T>()
  private pending: Array<R> = []
  private rows = 0
  private done = false

  /**
   * Opens a new file in `dir` (a stage's `ctx.tmpDir`). `build` turns at most `rowsPerBatch` rows
   * into a single-batch table with exactly `schema`.
   */
  constructor(
    dir: string,
    readonly schema: arrow.Schema<T>,
    private readonly build: (rows: ReadonlyArray<R>) => arrow.Table<T>,
    private readonly rowsPerBatch = defaultRowsPerBatch
  ) {
    if (!Number.isInteger(rowsPerBatch) || rowsPerBatch < 1) throw new Error(`TableWriter: rowsPerBatch ${rowsPerBatch} must be a positive integer`)
    this.path = join(dir, `table-${process.pid}-${files++}.arrow`)
    this.fd = openSync(this.path, "wx")
    this.writer.reset(new FileSink(this.fd), schema)
  }

  readonly path: string

  /** Rows appended so far. */
  get numRows(): number {
    return this.rows
  }

  /** Appends rows in order; full batches are written at once, the rest wait for more rows. */
  append(rows: Iterable<R>): void {
    if (this.done) throw new Error("TableWriter: append after finish")
    for (const row of rows) {
      this.pending.push(row)
      this.rows++
      if (this.pending.length === this.rowsPerBatch) this.flush()
    }
  }

  private flush(): void {
    if (this.pending.length === 0) return
    const table = this.build(this.pending)
    this.pending = []
    this.writer.write(this.oneBatch(table))
  }

  private oneBatch(table: arrow.Table<T>): arrow.RecordBatch<T> {
    if (table.batches.length !== 1) throw new Error(`TableWriter: build gave ${table.batches.length} record batches, expected one`)
    // Arrow's writer silently starts the file over (or closes it) for a batch of another schema,
    // and the engine checks the schema declared here, not the file's: so each batch is checked.
    const problem = schemaMismatch(this.schema, table.schema)
    if (problem !== undefined) throw new Error(`TableWriter: build gave a batch of another schema: ${problem}`)
    return table.batches[0]!
  }

  /** Writes what is left and the file footer, and closes the file. */
  finish(): TableFile<T> {
    if (this.done) throw new Error("TableWriter: finish called twice")
    this.flush()
    // An empty table is one empty batch, so the file still holds its schema.
    if (this.rows === 0) this.writer.write(this.oneBatch(this.build([])))
    this.writer.finish()
    closeSync(this.fd)
    this.done = true
    return { _tag: "TableFile", path: this.path, schema: this.schema, numRows: this.rows }
  }

  /** Closes the file without finishing it (the stage failed; its tmpDir is removed anyway). */
  abort(): void {
    if (this.done) return
    this.done = true
    closeSync(this.fd)
  }
}
