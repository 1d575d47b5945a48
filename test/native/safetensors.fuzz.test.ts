/**
 * Fuzzes the safetensors reader with mutations of a real file (the tiny Llama fixture): byte
 * flips in the length prefix and header, edits of the header's numbers and text, and truncations.
 * Every outcome must be either a successful read whose arrays match their shapes, or a typed
 * SafetensorsError naming the file; never a defect (a JS exception of another type), a crash or a hang.
 */
import { fixtures } from "../support/fixtures.ts"
import { Cause, Effect, Exit } from "effect"
import { readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import { readSafetensors, SafetensorsError } from "../../native/safetensors.ts"
import { testDir } from "./tempDir.ts"

const original = new Uint8Array(readFileSync(`${fixtures}/models/tiny-random-llama/model.safetensors`))
const headerLength = Number(new DataView(original.buffer).getBigUint64(0, true))
const headerText = Buffer.from(original.subarray(8, 8 + headerLength)).toString("utf8")
const data = original.subarray(8 + headerLength)

// mulberry32: a small seeded generator, so a failing case is reproducible from its index.
const generator = (seed: number) => () => {
  seed = (seed + 0x6d2b79f5) | 0
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}

const withHeader = (text: string, tail: Uint8Array = data, length?: bigint): Uint8Array => {
  const bytes = Buffer.from(text, "utf8")
  const prefix = Buffer.alloc(8)
  prefix.writeBigUInt64LE(length ?? BigInt(bytes.length))
  return Buffer.concat([prefix, bytes, tail])
}

const interesting = ["-1", "0", "1", "3", "1.5", "1e300", "-0", "2147483648", "9007199254740993", "4294967296", "null", '"4"', "[]", "{}", "true"]

const mutate = (random: () => number): Uint8Array => {
  const pick = <T>(xs: ReadonlyArray<T>): T => xs[Math.floor(random() * xs.length)]!
  switch (Math.floor(random() * 7)) {
    case 0: {
      // flip bytes anywhere in the prefix and header
      const bytes = original.slice()
      const flips = 1 + Math.floor(random() * 4)
      for (let i = 0; i < flips; i++) bytes[Math.floor(random() * (8 + headerLength))]! ^= 1 << Math.floor(random() * 8)
      return bytes
    }
    case 1:
      // truncate anywhere
      return original.slice(0, Math.floor(random() * original.length))
    case 2: {
      // replace one number of the header with an awkward value
      const numbers = [...headerText.matchAll(/-?\d+(\.\d+)?/g)]
      const m = pick(numbers)
      return withHeader(headerText.slice(0, m.index) + pick(interesting) + headerText.slice(m.index + m[0].length))
    }
    case 3: {
      // delete or duplicate a slice of header text
      const at = Math.floor(random() * headerText.length)
      const len = 1 + Math.floor(random() * 40)
      const text = random() < 0.5
        ? headerText.slice(0, at) + headerText.slice(at + len)
        : headerText.slice(0, at) + headerText.slice(at, at + len) + headerText.slice(at)
      return withHeader(text)
    }
    case 4: {
      // a wrong length prefix
      const lengths = [0n, 1n, BigInt(headerLength - 1), BigInt(headerLength + 1), BigInt(original.length), 2n ** 64n - 1n, 2n ** 53n + 1n]
      return withHeader(headerText, data, random() < 0.5 ? pick(lengths) : BigInt(Math.floor(random() * 2 ** 32)))
    }
    case 5: {
      // swap a dtype or drop the data tail
      const dtypes = ['"F16"', '"BF16"', '"I64"', '"F64"', '"f32"', '""', "7"]
      const text = headerText.replace(/"F32"/, pick(dtypes))
      return withHeader(text, random() < 0.5 ? data : data.subarray(0, Math.floor(random() * data.length)))
    }
    default: {
      // duplicate one entry under its own name (a duplicate key) or under a new one (an overlap)
      const m = pick([...headerText.matchAll(/"([^"]+)":\{"dtype"[^}]*\}/g)])
      const copy = random() < 0.5 ? m[0] : m[0].replace(`"${m[1]}"`, `"${m[1]}.copy"`)
      return withHeader(headerText.slice(0, -1) + "," + copy + "}")
    }
  }
}

describe("safetensors reader fuzz", () => {
  it("answers 3000 mutated files with a successful read or a clean SafetensorsError", async () => {
    const dir = testDir("st-fuzz-")
    const random = generator(20260401)
    const outcomes = { accepted: 0, refused: 0 }
    for (let i = 0; i < 3000; i++) {
      const file = join(dir, `case-${i % 8}.safetensors`)
      writeFileSync(file, mutate(random))
      const exit = await Effect.runPromiseExit(readSafetensors(file))
      if (Exit.isSuccess(exit)) {
        outcomes.accepted++
        for (const [name, t] of Object.entries(exit.value)) {
          expect(t.data.length, `case ${i}: ${name}`).toBe(t.shape.reduce((a, b) => a * b, 1))
        }
        continue
      }
      const error = Cause.findErrorOption(exit.cause)
      if (error._tag === "None" || !(error.value instanceof SafetensorsError)) {
        throw new Error(`case ${i}: not a clean refusal: ${Cause.pretty(exit.cause)}`)
      }
      expect(error.value.message.startsWith(`${file}: `), `case ${i}`).toBe(true)
      outcomes.refused++
    }
    // Both branches must be exercised, or the fuzzer is not testing what it claims.
    expect(outcomes.accepted).toBeGreaterThan(50)
    expect(outcomes.refused).toBeGreaterThan(2000)
  }, 300_000)
})
