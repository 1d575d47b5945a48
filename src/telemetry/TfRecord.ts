/**
 * TFRecord framing, the container of TensorBoard event files: each record is
 *
 *   uint64 length (little-endian) | uint32 masked crc32c(length) | data | uint32 masked crc32c(data)
 *
 * The crc32c is the Castagnoli CRC (from @aws-crypto/crc32c); TensorFlow "masks" it (rotate right
 * by 15, add a constant) because a CRC over bytes that themselves hold CRCs is weak.
 */
import { crc32c } from "@aws-crypto/crc32c"
import { Schema } from "effect"

const maskDelta = 0xa282ead8

/** TensorFlow's masked crc32c (tensorflow/core/lib/hash/crc32c.h, `Mask`). */
export const maskedCrc32c = (bytes: Uint8Array): number => {
  const crc = crc32c(bytes) >>> 0
  return ((((crc >>> 15) | (crc << 17)) >>> 0) + maskDelta) >>> 0
}

/** One record, framed. */
export const frame = (data: Uint8Array): Uint8Array => {
  const out = new Uint8Array(16 + data.length)
  const view = new DataView(out.buffer)
  view.setBigUint64(0, BigInt(data.length), true)
  view.setUint32(8, maskedCrc32c(out.subarray(0, 8)), true)
  out.set(data, 12)
  view.setUint32(12 + data.length, maskedCrc32c(data), true)
  return out
}

/** A file is not a sequence of TFRecords (a wrong checksum, or cut short). */
export class BadRecord extends Schema.TaggedError<BadRecord>()("BadRecord", {
  offset: Schema.Number,
  message: Schema.String
}) {}

/**
 * The records of `bytes`, checksums verified. A record cut short at the very end is left out: the
 * file of a run still in progress (or killed) can end in the middle of a write.
 */
export const unframe = (bytes: Uint8Array): Array<Uint8Array> => {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const records: Array<Uint8Array> = []
  let offset = 0
  while (offset + 12 <= bytes.length) {
    if (view.getUint32(offset + 8, true) !== maskedCrc32c(bytes.subarray(offset, offset + 8))) {
      throw new BadRecord({ offset, message: `record at byte ${offset}: length checksum mismatch` })
    }
    const length = Number(view.getBigUint64(offset, true))
    const end = offset + 12 + length + 4
    if (end > bytes.length) break
    const data = bytes.subarray(offset + 12, offset + 12 + length)
    if (view.getUint32(end - 4, true) !== maskedCrc32c(data)) throw new BadRecord({ offset, message: `record at byte ${offset}: data checksum mismatch` })
    records.push(data)
    offset = end
  }
  return records
}
