/**
 * TableWriter and TableReader, and streamed tables through the store: files of many batches whose
 * bytes depend on the rows only, empty tables, and a corrupted object that a streamed read refuses.
 */
import { chmodSync, readFileSync, writeFileSync } from "node:fs"
import * as arrow from "apache-arrow"
import { Effect, Exit } from "effect"
import type { Scope } from "effect"
import { afterEach, describe, expect, it } from "vitest"
import { StreamedTable, Table } from "../../src/Artifact.ts"
import { putOutput, readArtifact } from "../../src/runner/Artifacts.ts"
import { Store } from "../../src/store/Store.ts"
import type { StoreShape } from "../../src/store/Store.ts"
import { TableReader } from "../../src/TableReader.ts"
import { TableWriter } from "../../src/TableWriter.ts"
import { tableFrom, tableSchema } from "../../src/TableSchema.ts"
import { diskLayer, memoryLayer, runWith, tempDir } from "../store/support.ts"

const schema = tableSchema({ n: new arrow.Int32(), text: new arrow.Utf8() })
interface Row {
  readonly n: number
  readonly text: string
}
const build = (rows: ReadonlyArray<Row>) => tableFrom(schema, { n: rows.map((r) => r.n), text: rows.map((r) => r.text) })
const rows: Array<Row> = Array.from({ length: 2500 }, (_, n) => ({ n, text: "é".repeat(n % 17) + String(n) }))

const dirs: Array<() => void> = []
afterEach(() => dirs.splice(0).forEach((cleanup) => cleanup()))
const scratch = () => {
  const { dir, cleanup } = tempDir("table")
  dirs.push(cleanup)
  return dir
}

/** Writes `rows` appended in groups of `group`. */
const write = (dir: string, group: number, rowsPerBatch: number) => {
  const writer = new TableWriter(dir, schema, build, rowsPerBatch)
  for (let at = 0; at < rows.length; at += group) writer.append(rows.slice(at, at + group))
  return writer.finish()
}

const readRows = async (reader: TableReader) => {
  const out: Array<Row> = []
  const sizes: Array<number> = []
  for await (const batch of reader.batches()) {
    sizes.push(batch.numRows)
    for (const row of batch) out.push({ n: row!.n, text: row!.text })
  }
  return { rows: out, sizes }
}

describe("TableWriter / TableReader", () => {
  it("cuts rows into batches of rowsPerBatch whatever groups they come in, so the bytes depend on the rows only", async () => {
    const dir = scratch()
    const files = [1, 7, 256, 1000, 5000].map((group) => write(dir, group, 256))
    const bytes = files.map((file) => readFileSync(file.path))
    for (const other of bytes.slice(1)) expect(Buffer.compare(other, bytes[0]!)).toBe(0)
    expect(files[0]!.numRows).toBe(rows.length)
    const reader = await TableReader.open(files[0]!.path)
    expect(reader.numBatches).toBe(10)
    const read = await readRows(reader)
    expect(read.sizes).toEqual([...Array(9).fill(256), 196])
    expect(read.rows).toEqual(rows)
    // arrow's own reader reads the same file, and a second pass gives the same rows.
    expect(arrow.tableFromIPC(bytes[0]!).numRows).toBe(rows.length)
    expect((await readRows(reader)).rows).toEqual(rows)
  })

  it("a one-batch file is what tableToIPC writes for the same table", () => {
    const file = write(scratch(), 100, 5000)
    expect(Buffer.compare(readFileSync(file.path), Buffer.from(arrow.tableToIPC(build(rows), "file")))).toBe(0)
  })

  it("head reads only the batches that hold the rows it returns", async () => {
    const reader = await TableReader.open(write(scratch(), 1000, 256).path)
    const batches = reader.batches.bind(reader)
    let read = 0
    reader.batches = async function*() {
      for await (const batch of batches()) {
        read++
        yield batch
      }
    }
    const head = await reader.head(300)
    expect([...head.getChild("n")!.toArray()]).toEqual(rows.slice(0, 300).map((r) => r.n))
    expect(read).toBe(2)
    read = 0
    expect((await reader.head(256)).numRows).toBe(256)
    expect(read).toBe(1)
    read = 0
    expect((await reader.head(0)).numRows).toBe(0)
    expect(read).toBe(0)
  })

  it("an empty table keeps its schema", async () => {
    const file = new TableWriter(scratch(), schema, build).finish()
    const reader = await TableReader.open(file.path)
    expect(reader.schema.fields.map(String)).toEqual(["n: Int32", "text: Utf8"])
    expect((await readRows(reader)).rows).toEqual([])
    expect((await reader.readAll()).numRows).toBe(0)
  })

  it("refuses a build that gives more than one batch, and writes after finish", () => {
    const twoBatches = (part: ReadonlyArray<Row>) => build(part).concat(build(part))
    const writer = new TableWriter(scratch(), schema, twoBatches, 2)
    expect(() => writer.append(rows.slice(0, 2))).toThrow(/2 record batches, expected one/)
    const done = new TableWriter(scratch(), schema, build)
    done.finish()
    expect(() => done.append(rows)).toThrow(/after finish/)
  })

  it("refuses a build whose batches have another schema than the writer's (arrow's writer would take it)", () => {
    const other = tableSchema({ n: new arrow.Int32(), label: new arrow.Utf8() })
    const renamed = (part: ReadonlyArray<Row>) => tableFrom(other, { n: part.map((r) => r.n), label: part.map((r) => r.text) })
    const writer = new TableWriter(scratch(), schema, renamed as unknown as typeof build, 2)
    expect(() => writer.append(rows.slice(0, 2))).toThrow(/another schema: column 1: expected text: Utf8, got label: Utf8/)
  })
})

const implementations = [["disk", diskLayer], ["memory", memoryLayer]] as const

describe.each(implementations)("streamed tables in the %s store", (name, layer) => {
  /** Runs `body` on a fresh store of this kind, with a stage's tmpDir in it. */
  const inStore = <E>(body: (store: StoreShape, tmpDir: string) => Effect.Effect<void, E, Store | Scope.Scope>) =>
    runWith(layer(scratch()))(
      Effect.gen(function*() {
        const store = yield* Store
        yield* body(store, yield* store.makeTmpDir)
      })
    )

  it("a written table is stored, read batch by batch, and (on disk) its corruption is caught before the stage reads it", async () => {
    await inStore((store, tmpDir) =>
      Effect.gen(function*() {
        const file = write(tmpDir, 300, 1024)
        const bytes = readFileSync(file.path)
        const ref = yield* putOutput("rows", StreamedTable(schema), file, tmpDir)
        // The same rows as one in-memory table: a different batching, so other bytes, same rows.
        const whole = yield* putOutput("rows", Table(schema), build(rows), tmpDir)
        expect(whole.digest).not.toBe(ref.digest)
        const reader = (yield* readArtifact(StreamedTable(schema), ref)) as TableReader
        expect(reader.numBatches).toBe(3)
        expect((yield* Effect.promise(() => readRows(reader))).rows).toEqual(rows)
        const table = (yield* readArtifact(Table(schema), ref)) as arrow.Table
        expect(table.numRows).toBe(rows.length)

        // The memory store keeps its own copy of every object: only a disk object can be damaged.
        if (name !== "disk") return
        const path = store.objectPath(ref.digest)
        chmodSync(path, 0o644)
        bytes[bytes.length >> 1] ^= 0xff
        writeFileSync(path, bytes)
        const exit = yield* Effect.exit(readArtifact(StreamedTable(schema), ref))
        expect(Exit.isFailure(exit) && JSON.stringify(exit.cause)).toMatch(/CorruptObject/)
      })
    )
  })

  it("a TableFile outside tmpDir or with another schema is refused", async () => {
    await inStore((_, tmpDir) =>
      Effect.gen(function*() {
        const outside = write(scratch(), 300, 1024)
        const exit = yield* Effect.exit(putOutput("rows", StreamedTable(schema), outside, tmpDir))
        expect(Exit.isFailure(exit) && JSON.stringify(exit.cause)).toMatch(/not under ctx.tmpDir/)
        const other = tableSchema({ n: new arrow.Int32() })
        const wrong = new TableWriter(tmpDir, other, (r: ReadonlyArray<{ n: number }>) => tableFrom(other, { n: r.map((x) => x.n) })).finish()
        const refused = yield* Effect.exit(putOutput("rows", StreamedTable(schema), wrong, tmpDir))
        expect(Exit.isFailure(refused) && JSON.stringify(refused.cause)).toMatch(/OutputMismatch/)
      })
    )
  })
})
