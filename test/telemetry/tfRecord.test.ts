/**
 * TFRecord framing: the bytes TensorBoard's own record writer makes for the same payloads (oracle);
 * a record reads back as written, a damaged record is refused, and a record cut short at the end
 * of a file being written is left out.
 */
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import { BadRecord, frame, unframe } from "../../src/telemetry/TfRecord.ts"
import { describeOracle, runOracle } from "../support/oracle.ts"

const bytes = (text: string) => new TextEncoder().encode(text)

describeOracle("TFRecord framing against TensorBoard's writer", () => {
  it("frames payloads byte for byte as tensorboard.summary.writer.RecordWriter", () => {
    const payloads = [bytes(""), bytes("123456789"), Uint8Array.from({ length: 1000 }, (_, i) => (i * 31) % 256)]
    const input = payloads.map((p) => (p.length === 0 ? "-" : Buffer.from(p).toString("hex"))).join("\n")
    const theirs = runOracle(join(import.meta.dirname, "oracle", "frame_records.py"), [], input)
    expect(Buffer.concat(payloads.map(frame)).toString("hex")).toBe(theirs)
  })
})

describe("TFRecord", () => {
  it("reads back what it framed, refuses damage and drops a torn tail", () => {
    const records = [bytes("first"), bytes(""), bytes("a longer third record")]
    const file = Buffer.concat(records.map(frame))
    expect(unframe(file).map((r) => Buffer.from(r).toString())).toEqual(["first", "", "a longer third record"])
    expect(unframe(file.subarray(0, file.length - 3)).length).toBe(2)
    const damaged = Buffer.from(file)
    damaged[14] = damaged[14]! ^ 1
    expect(() => unframe(damaged)).toThrow(BadRecord)
    const badLength = Buffer.from(file)
    badLength[0] = badLength[0]! ^ 1
    expect(() => unframe(badLength)).toThrow(/length checksum/)
  })
})
