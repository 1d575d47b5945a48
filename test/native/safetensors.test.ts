import { fixtures as shared } from "../support/fixtures.ts"
import { Cause, Effect, Exit } from "effect"
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { readHeader, readModelDirectory, readSafetensors, SafetensorsError, writeSafetensors } from "../../native/safetensors.ts"
import type { Tensor } from "../../native/safetensors.ts"
import { describeOracle, runOracle } from "../support/oracle.ts"

const script = fileURLToPath(new URL("./oracle/safetensors_ref.py", import.meta.url))
const fixtures = `${shared}/models`

interface RefTensor { readonly shape: Array<number>; readonly values: Array<number> }

/** Builds a file from a header (object or raw text) and data bytes; `length` overrides the u64 prefix. */
const build = (header: object | string | Uint8Array, data: Uint8Array, length?: bigint): Uint8Array => {
  const text = header instanceof Uint8Array ? header : Buffer.from(typeof header === "string" ? header : JSON.stringify(header), "utf8")
  const prefix = Buffer.alloc(8)
  prefix.writeBigUInt64LE(length ?? BigInt(text.length))
  return Buffer.concat([prefix, text, data])
}

const failure = async (effect: Effect.Effect<unknown, SafetensorsError>): Promise<SafetensorsError> => {
  const exit = await Effect.runPromiseExit(effect)
  if (Exit.isSuccess(exit)) throw new Error("expected a refusal, the file was accepted")
  const error = Cause.findErrorOption(exit.cause)
  if (error._tag === "None") throw new Error(`expected a SafetensorsError, got ${Cause.pretty(exit.cause)}`)
  expect(error.value).toBeInstanceOf(SafetensorsError)
  return error.value
}

const f32 = (n: number): Uint8Array => new Uint8Array(n * 4)
const entry = (dtype: unknown, shape: unknown, data_offsets: unknown) => ({ dtype, shape, data_offsets })

// Each case: a file, the reason fragment we expect, the tensor named in the message (if any), and
// whether the reference library must refuse it too (false where we are deliberately stricter:
// unsupported-but-valid dtypes and our size limits).
const malformed: ReadonlyArray<{
  name: string; bytes: Uint8Array; reason: string; tensor?: string; referenceRefuses: boolean
}> = [
  { name: "short", bytes: new Uint8Array(5), reason: "fewer than the 8-byte", referenceRefuses: true },
  { name: "length-past-end", bytes: build({ a: entry("F32", [1], [0, 4]) }, f32(1), 4096n), reason: "runs past the end of the", referenceRefuses: true },
  { name: "length-absurd", bytes: build({}, new Uint8Array(0), 1n << 62n), reason: "exceeds the 100000000-byte limit", referenceRefuses: true },
  { name: "not-json", bytes: build('{"a": {"dtype": "F32",', new Uint8Array(0)), reason: "not valid JSON", referenceRefuses: true },
  { name: "not-object", bytes: build("[1, 2]", new Uint8Array(0)), reason: 'must start with "{"', referenceRefuses: true },
  { name: "not-utf8", bytes: build(Buffer.concat([Buffer.from('{"'), Buffer.from([0xff, 0xfe]), Buffer.from('": 1}')]), new Uint8Array(0)), reason: "not valid UTF-8", referenceRefuses: true },
  { name: "entry-not-object", bytes: build({ a: 5 }, new Uint8Array(0)), reason: "must be an object", tensor: "a", referenceRefuses: true },
  { name: "missing-dtype", bytes: build({ w: { shape: [1], data_offsets: [0, 4] } }, f32(1)), reason: '"dtype" must be a string', tensor: "w", referenceRefuses: true },
  { name: "unknown-dtype", bytes: build({ w: entry("F33", [1], [0, 4]) }, f32(1)), reason: 'unknown dtype "F33" (supported: F32, BF16, F16)', tensor: "w", referenceRefuses: true },
  { name: "unsupported-dtype", bytes: build({ w: entry("I64", [1], [0, 8]) }, new Uint8Array(8)), reason: 'unsupported dtype "I64" (supported: F32, BF16, F16)', tensor: "w", referenceRefuses: false },
  { name: "shape-missing", bytes: build({ w: { dtype: "F32", data_offsets: [0, 4] } }, f32(1)), reason: '"shape" must be an array', tensor: "w", referenceRefuses: true },
  { name: "shape-negative", bytes: build({ w: entry("F32", [-1], [0, 4]) }, f32(1)), reason: "non-negative integers", tensor: "w", referenceRefuses: true },
  { name: "shape-fraction", bytes: build({ w: entry("F32", [0.5], [0, 4]) }, f32(1)), reason: "non-negative integers", tensor: "w", referenceRefuses: true },
  { name: "shape-overflow", bytes: build({ w: entry("F32", [2 ** 32, 2 ** 32, 2 ** 32], [0, 4]) }, f32(1)), reason: "more than 2147483647 elements", tensor: "w", referenceRefuses: true },
  { name: "offsets-missing", bytes: build({ w: { dtype: "F32", shape: [1] } }, f32(1)), reason: '"data_offsets" must be two', tensor: "w", referenceRefuses: true },
  { name: "offsets-three", bytes: build({ w: entry("F32", [1], [0, 4, 8]) }, f32(1)), reason: '"data_offsets" must be two', tensor: "w", referenceRefuses: true },
  { name: "offsets-negative", bytes: build({ w: entry("F32", [1], [-4, 0]) }, f32(1)), reason: '"data_offsets" must be two', tensor: "w", referenceRefuses: true },
  { name: "offsets-reversed", bytes: build({ w: entry("F32", [0], [4, 0]) }, f32(1)), reason: "reversed", tensor: "w", referenceRefuses: true },
  { name: "offsets-past-end", bytes: build({ w: entry("F32", [4], [0, 16]) }, f32(2)), reason: "run past the end of the data (8 bytes)", tensor: "w", referenceRefuses: true },
  { name: "size-mismatch", bytes: build({ w: entry("F32", [3], [0, 8]) }, f32(2)), reason: "holds 8 bytes but F32 × [3] needs 12", tensor: "w", referenceRefuses: true },
  { name: "overlap", bytes: build({ a: entry("F32", [2], [0, 8]), b: entry("F32", [2], [4, 12]) }, f32(3)), reason: "overlaps", tensor: "b", referenceRefuses: true },
  { name: "hole", bytes: build({ a: entry("F32", [1], [0, 4]), b: entry("F32", [1], [8, 12]) }, f32(3)), reason: "hole of 4 bytes", tensor: "b", referenceRefuses: true },
  { name: "trailing", bytes: build({ a: entry("F32", [1], [0, 4]) }, f32(2)), reason: "4 trailing bytes", referenceRefuses: true },
  { name: "duplicate", bytes: build('{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}', f32(2)), reason: "more than once", tensor: "a", referenceRefuses: true },
  { name: "metadata-not-strings", bytes: build({ __metadata__: { n: 1 }, a: entry("F32", [1], [0, 4]) }, f32(1)), reason: '"__metadata__" must be an object of strings', referenceRefuses: true }
]

describe("safetensors reader: refusals", () => {
  let dir: string
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "st-bad-"))
    for (const c of malformed) writeFileSync(join(dir, `${c.name}.safetensors`), c.bytes)
  })
  afterAll(() => rmSync(dir, { recursive: true, force: true }))

  for (const c of malformed) {
    it(`refuses ${c.name}`, async () => {
      const file = join(dir, `${c.name}.safetensors`)
      const error = await failure(readSafetensors(file))
      expect(error.file).toBe(file)
      expect(error.message.startsWith(`${file}: `)).toBe(true)
      expect(error.message).toContain(c.reason)
      expect(error.tensor).toBe(c.tensor)
      if (c.tensor !== undefined) expect(error.message).toContain(`tensor "${c.tensor}"`)
    })
  }

  it("refuses a missing file with the file name", async () => {
    const error = await failure(readSafetensors(join(dir, "absent.safetensors")))
    expect(error.message).toContain("absent.safetensors: ENOENT")
  })

  it("refuses pickle checkpoints with a hint to convert them", async () => {
    const model = join(dir, "pickled")
    mkdirSync(model)
    writeFileSync(join(model, "pytorch_model.bin"), "PK\x03\x04")
    const error = await failure(readModelDirectory(model))
    expect(error.message).toContain("pytorch_model.bin: pickle checkpoints are not loaded")
    expect(error.message).toContain("safe_serialization=True")
  })

  it("refuses a directory without weights", async () => {
    const model = join(dir, "empty")
    mkdirSync(model)
    expect((await failure(readModelDirectory(model))).message).toContain("no model.safetensors")
  })

  it("refuses an index whose shard escapes the directory or lacks a tensor", async () => {
    const escaping = join(dir, "escaping")
    mkdirSync(escaping)
    writeFileSync(join(escaping, "model.safetensors.index.json"), JSON.stringify({ weight_map: { w: "../x.safetensors" } }))
    const e1 = await failure(readModelDirectory(escaping))
    expect(e1.message).toContain('shard "../x.safetensors" must be a .safetensors file in the same directory')
    expect(e1.tensor).toBe("w")

    const lacking = join(dir, "lacking")
    mkdirSync(lacking)
    writeFileSync(join(lacking, "s.safetensors"), build({ a: entry("F32", [1], [0, 4]) }, f32(1)))
    writeFileSync(join(lacking, "model.safetensors.index.json"), JSON.stringify({ weight_map: { a: "s.safetensors", b: "s.safetensors" } }))
    const e2 = await failure(readModelDirectory(lacking))
    expect(e2.message).toContain('s.safetensors: tensor "b": is listed in the index but missing from the file')

    const bad = join(dir, "badindex")
    mkdirSync(bad)
    writeFileSync(join(bad, "model.safetensors.index.json"), JSON.stringify({ weight_map: { a: 3 } }))
    expect((await failure(readModelDirectory(bad))).message).toContain('["weight_map"]["a"]')
  })

  describeOracle("the reference library agrees", () => {
    it("refuses every malformed file that the spec forbids", () => {
      const files = malformed.filter((c) => c.referenceRefuses).map((c) => join(dir, `${c.name}.safetensors`))
      const verdicts = JSON.parse(runOracle(script, ["check", ...files])) as Record<string, string>
      const accepted = Object.entries(verdicts).filter(([, v]) => v === "ok").map(([f]) => f)
      expect(accepted).toEqual([])
    })
  })
})

describeOracle("safetensors reader and writer against the reference library", () => {
  let dir: string
  let reference: Record<string, RefTensor>
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "st-ref-"))
    reference = JSON.parse(runOracle(script, ["make", dir])) as Record<string, RefTensor>
  })
  afterAll(() => rmSync(dir, { recursive: true, force: true }))

  const expectEqual = (ours: Record<string, Tensor>, names: ReadonlyArray<string>) => {
    expect(Object.keys(ours).sort()).toEqual([...names].sort())
    for (const name of names) {
      expect(ours[name]!.shape, name).toEqual(reference[name]!.shape)
      // Exact: every conversion to fp32 must be bit-for-bit what torch does.
      expect(Array.from(ours[name]!.data), name).toEqual(reference[name]!.values)
    }
  }

  it("reads F32, BF16 and F16 tensors exactly as torch converts them", async () => {
    const ours = await Effect.runPromise(readSafetensors(join(dir, "mixed.safetensors")))
    expectEqual(ours, ["f32.matrix", "bf16.vector", "f16.cube", "f16.special", "f32.scalar", "f32.empty"])
  })

  it("reads a sharded model directory through its index", async () => {
    const ours = await Effect.runPromise(readModelDirectory(join(dir, "sharded")))
    expectEqual(ours, ["a.weight", "b.bias", "c.weight"])
  })

  it("reads the fixture models' headers", async () => {
    const header = await Effect.runPromise(readHeader(join(fixtures, "tiny-random-llama", "model.safetensors")))
    expect(header.tensors.length).toBe(21)
    expect(header.tensors.reduce((n, t) => n + t.shape.reduce((a, b) => a * b, 1), 0)).toBe(139_584)
  })

  it("writes files the reference library loads with identical values", async () => {
    const tensors: Record<string, Tensor> = {
      "z.last": { shape: [2, 3], data: Float32Array.from([1, -2, 3.5, 1e-30, -0, 65536.125]) },
      "a.first": { shape: [5], data: Float32Array.from([0.1, 0.2, 0.3, 0.4, 0.5]) },
      "m.scalar": { shape: [], data: Float32Array.from([7]) },
      "e.empty": { shape: [0, 3], data: new Float32Array(0) }
    }
    const file = join(dir, "ours.safetensors")
    await Effect.runPromise(writeSafetensors(file, tensors))
    const loaded = JSON.parse(runOracle(script, ["load", file])) as Record<string, RefTensor>
    for (const [name, t] of Object.entries(tensors)) {
      expect(loaded[name]!.shape).toEqual(t.shape)
      expect(loaded[name]!.values).toEqual(Array.from(t.data))
    }
    const back = await Effect.runPromise(readSafetensors(file))
    for (const [name, t] of Object.entries(tensors)) expect(back[name]!.data).toEqual(t.data)
  })

  it("refuses to write a tensor whose shape does not match its data", async () => {
    const error = await failure(writeSafetensors(join(dir, "bad.safetensors"), { w: { shape: [2, 2], data: new Float32Array(3) } }))
    expect(error.message).toContain('tensor "w": shape [2,2] needs 4 values, got 3')
  })
})
