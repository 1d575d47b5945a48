/**
 * Canonical JSON: sorted keys, one number encoding, and a hard error naming the path for every
 * value without one obvious JSON meaning. The reference for the encoding of plain data is
 * `JSON.stringify` (ECMAScript's own serialisation) with sorted keys.
 */
import { describe, expect, it } from "vitest"
import { canonicalJson, NotCanonical, toCanonical } from "../../src/key/Canonical.ts"

const failure = (value: unknown): NotCanonical => {
  try {
    toCanonical(value, ["train"])
  } catch (error) {
    if (error instanceof NotCanonical) return error
    throw error
  }
  throw new Error("expected NotCanonical")
}

describe("canonical JSON", () => {
  it("sorts keys at every depth and agrees with JSON.stringify on plain data", () => {
    const value = { b: [1, { z: 1, a: "x" }], a: { d: null, c: true } }
    expect(canonicalJson(value)).toBe(JSON.stringify({ a: { c: true, d: null }, b: [1, { a: "x", z: 1 }] }))
    expect(canonicalJson({ x: 1, y: 2 })).toBe(canonicalJson({ y: 2, x: 1 }))
  })

  it("has one encoding per number", () => {
    expect(canonicalJson([1.0, 1e0, 0.1 + 0.2, 2e-5, -0, 1e21])).toBe("[1,1,0.30000000000000004,0.00002,0,1e+21]")
  })

  it("rejects values without a canonical encoding, naming their path", () => {
    class Point {
      constructor(readonly x: number) {}
    }
    const cases: Array<[unknown, string, RegExp]> = [
      [{ lr: Number.NaN }, "/train/lr", /NaN/],
      [{ lr: Number.POSITIVE_INFINITY }, "/train/lr", /Infinity/],
      [{ a: { b: undefined } }, "/train/a/b", /undefined/],
      [{ f: () => 1 }, "/train/f", /function/],
      [{ m: new Map() }, "/train/m", /Map/],
      [{ s: new Set() }, "/train/s", /Set/],
      [{ p: new Point(1) }, "/train/p", /Point/],
      [{ n: 10n }, "/train/n", /bigint/],
      [{ list: [1, new Date(0)] }, "/train/list/1", /Date/],
      [{ "a/b": { "c~d": Number.NaN } }, "/train/a~1b/c~0d", /NaN/]
    ]
    for (const [value, path, message] of cases) {
      const error = failure(value)
      expect(error.path).toBe(path)
      expect(error.message).toMatch(message)
    }
  })

  it("accepts null-prototype objects as plain objects", () => {
    const value = Object.assign(Object.create(null), { b: 1, a: 2 })
    expect(canonicalJson(value)).toBe("{\"a\":2,\"b\":1}")
  })
})
