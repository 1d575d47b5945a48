/**
 * Helpers for the op tests: the addon's `ops` object, the oracle round trip and the comparisons.
 */
import { createRequire } from "node:module"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { expect } from "vitest"
import { runOracle } from "../../support/oracle.ts"
import { maxAbsDiff, relL2 } from "../compare.ts"

const here = dirname(fileURLToPath(import.meta.url))

// SFT_NATIVE_ADDON points at another build of the same addon (e.g. one made outside the checkout).
const addonPath = process.env.SFT_NATIVE_ADDON ?? join(here, "..", "..", "..", "native", "build", "Release", "sft_native.node")

type Op = (...args: ReadonlyArray<unknown>) => unknown
/** The test-only kernel binding, `addon.ops`, with the C names and argument orders of native/cpu. */
export const ops: Record<string, Op> = (createRequire(import.meta.url)(addonPath) as { ops: Record<string, Op> }).ops

/** Decoded oracle output: every field is base64 raw little-endian data, or a plain JSON number. */
export interface OracleResult {
  readonly f32: (name: string) => Float32Array
  readonly i32: (name: string) => Int32Array
  readonly num: (name: string) => number
}

const bytes = (raw: Record<string, unknown>, name: string): ArrayBuffer => {
  const value = raw[name]
  if (typeof value !== "string") throw new Error(`oracle output has no tensor "${name}"`)
  return new Uint8Array(Buffer.from(value, "base64")).buffer
}

/** Runs test/native/ops/<script>.py once for all `cases` (JSON on stdin); one result per case. */
export const oracle = (script: string, cases: ReadonlyArray<object>): ReadonlyArray<OracleResult> => {
  const raws = JSON.parse(runOracle(join(here, `${script}.py`), [], JSON.stringify(cases))) as ReadonlyArray<Record<string, unknown>>
  return raws.map(decode)
}

const decode = (raw: Record<string, unknown>): OracleResult => {
  return {
    f32: (name) => new Float32Array(bytes(raw, name)),
    i32: (name) => new Int32Array(bytes(raw, name)),
    num: (name) => {
      const value = raw[name]
      if (typeof value !== "number") throw new Error(`oracle output has no number "${name}"`)
      return value
    }
  }
}

/** max |a - b| and ||a - b|| / ||b||, computed in double. */
export const diff = (ours: Float32Array, ref: Float32Array): { maxAbs: number; relL2: number } =>
  ({ maxAbs: maxAbsDiff(ours, ref), relL2: relL2(ours, ref) })

/** Asserts the relative L2 difference is within `tol` (fp32: 1e-5 outputs, 1e-4 gradients) and prints both. */
export const expectClose = (name: string, ours: Float32Array, ref: Float32Array, tol: number): void => {
  const d = diff(ours, ref)
  console.log(`${name}: max|diff| ${d.maxAbs.toExponential(2)}, rel L2 ${d.relL2.toExponential(2)}`)
  expect(Number.isFinite(d.relL2)).toBe(true)
  expect(d.relL2).toBeLessThanOrEqual(tol)
}

/** Runs `fn` with 1, 2 and 3 threads on fresh outputs and asserts every run gives the same bits. */
export const expectThreadInvariant = (fn: () => ReadonlyArray<Float32Array | number>): void => {
  const previous = ops.get_num_threads!() as number
  const runs: Array<ReadonlyArray<Float32Array | number>> = []
  try {
    for (const threads of [1, 2, 3]) {
      ops.set_num_threads!(threads)
      runs.push(fn())
    }
  } finally {
    ops.set_num_threads!(previous)
  }
  const bytesOf = (x: Float32Array | number): Buffer =>
    typeof x === "number" ? Buffer.from(new Float64Array([x]).buffer) : Buffer.from(x.buffer, x.byteOffset, x.byteLength)
  runs.slice(1).forEach((run, r) => {
    run.forEach((x, i) => {
      // an output array reused across runs would be compared with itself
      const first = runs[0]![i]!
      if (typeof x !== "number" && typeof first !== "number") {
        expect(x.buffer === first.buffer, `output ${i} must be a fresh array in every run`).toBe(false)
      }
      expect(bytesOf(x).equals(bytesOf(runs[0]![i]!)), `output ${i} with ${r + 2} threads differs from 1 thread`).toBe(true)
    })
  })
}
