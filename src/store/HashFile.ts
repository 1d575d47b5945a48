/**
 * Streaming sha256 of a file, optionally copying it at the same time.
 *
 * Written on node:fs/promises rather than Effect's FileSystem/Stream: the copy overlaps three things
 * per chunk (reading the next chunk and writing the current one in libuv's thread pool while the main
 * thread hashes), writes at explicit positions and fsyncs the copy before closing it, which a Stream
 * pipeline does not express. Memory stays at two chunks whatever the file size.
 */
import type { FileHandle } from "node:fs/promises"
import { open, rm } from "node:fs/promises"
import type { Digest } from "./Digest.ts"
import * as Digests from "./Digest.ts"

/**
 * 8 MiB chunks: hashing one takes milliseconds, so the per-chunk thread-pool round trip is noise, and
 * two buffers are little memory. On the 2-vCPU dev box (heavily loaded at the time) hashing a cached
 * 1 GiB file with 64 KiB to 16 MiB chunks gave 260-430 MB/s with no trend beyond that noise.
 */
const chunkSize = 8 << 20

/**
 * The buffer size for a file of `size` bytes: a chunk, or less for a small file. Two 8 MiB buffers
 * per hash made a cached run (which re-hashes its small outputs) spend more time collecting garbage
 * than working; a little slack lets a file that grows while it is read take fewer rounds.
 */
const bufferSize = (size: number): number => Math.min(chunkSize, Math.max(64 << 10, size + 1))

/** What was hashed: the digest and the number of bytes read. */
export interface Hashed {
  readonly digest: Digest
  readonly size: number
}

const abortIf = (signal: AbortSignal | undefined): void => {
  if (signal?.aborted) throw signal.reason ?? new Error("aborted")
}

const readAt = async (file: FileHandle, buffer: Buffer, position: number): Promise<number> =>
  (await file.read(buffer, 0, buffer.length, position)).bytesRead

const writeAt = async (file: FileHandle, bytes: Uint8Array, position: number): Promise<void> => {
  let done = 0
  while (done < bytes.length) {
    done += (await file.write(bytes, done, bytes.length - done, position + done)).bytesWritten
  }
}

/**
 * Reads `source` chunk by chunk, reading the next chunk while `consume` handles the current one
 * (hashing it, and writing it in the copy case); returns the number of bytes read.
 */
const eachChunk = async (
  source: FileHandle,
  signal: AbortSignal | undefined,
  consume: (chunk: Buffer, position: number) => Promise<void> | void
): Promise<number> => {
  const size = bufferSize((await source.stat()).size)
  const buffers = [Buffer.allocUnsafe(size), Buffer.allocUnsafe(size)] as const
  let current = 0
  let position = 0
  let length = await readAt(source, buffers[0], 0)
  while (length > 0) {
    abortIf(signal)
    const chunk = buffers[current]!.subarray(0, length)
    const next = readAt(source, buffers[1 - current]!, position + length)
    const consumed = consume(chunk, position)
    position += length
    ;[, length] = await Promise.all([consumed, next])
    current = 1 - current
  }
  return position
}

/** Hashes the file at `path`. */
export const hashFile = async (path: string, signal?: AbortSignal): Promise<Hashed> => {
  const source = await open(path, "r")
  try {
    const hash = Digests.hasher()
    const size = await eachChunk(source, signal, (chunk) => {
      hash.update(chunk)
    })
    return { digest: Digests.fromHash(hash), size }
  } finally {
    await source.close()
  }
}

/**
 * Copies `path` to the new file `destination` (created exclusively with `mode`, fsynced, closed) and
 * returns the digest of exactly the bytes written. On any failure the partial copy is removed.
 */
export const hashCopy = async (
  path: string,
  destination: string,
  mode: number,
  signal?: AbortSignal
): Promise<Hashed> => {
  const source = await open(path, "r")
  try {
    const target = await open(destination, "wx", mode)
    try {
      const hash = Digests.hasher()
      const size = await eachChunk(source, signal, (chunk, position) => {
        const written = writeAt(target, chunk, position)
        hash.update(chunk)
        return written
      })
      await target.sync()
      await target.close()
      return { digest: Digests.fromHash(hash), size }
    } catch (error) {
      await target.close().catch(() => undefined)
      await rm(destination, { force: true })
      throw error
    }
  } finally {
    await source.close()
  }
}
