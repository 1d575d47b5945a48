/**
 * Store throughput for a 1 GiB artifact against `sha256sum` on the same file, in the same run.
 *
 *   npx tsx bench/store-throughput.ts [--size-mib N] [--repeat N]
 *
 * The file and the store share one temporary directory (so one filesystem, as in a real run where a
 * stage's output lands in the store's tmp/). Each repetition times sha256sum, then putFile into a fresh
 * store (read + sha256 + write + fsync + rename), then putFile with `move` (sha256 + fsync + rename).
 * The file is in the page cache for all of them. The best time of each is reported, since other
 * processes on the machine only ever slow a measurement down.
 */
import { spawnSync } from "node:child_process"
import { randomBytes } from "node:crypto"
import { closeSync, chmodSync, mkdtempSync, openSync, renameSync, rmSync, writeSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { parseArgs } from "node:util"
import * as NodeServices from "@effect/platform-node/NodeServices"
import { Effect, Layer } from "effect"
import { layerDisk } from "../src/store/DiskStore.ts"
import { Store } from "../src/store/Store.ts"

const { values } = parseArgs({
  options: { "size-mib": { type: "string", default: "1024" }, repeat: { type: "string", default: "3" } }
})
const size = Number(values["size-mib"]) * 1024 * 1024
const repeat = Number(values.repeat)

const dir = mkdtempSync(join(tmpdir(), "store-throughput-"))
const input = join(dir, "input.bin")

const writeRandomFile = () => {
  const fd = openSync(input, "w")
  const block = 64 << 20
  for (let written = 0; written < size; written += block) writeSync(fd, randomBytes(Math.min(block, size - written)))
  closeSync(fd)
}

const seconds = (start: bigint) => Number(process.hrtime.bigint() - start) / 1e9

const timeSha256sum = (): { seconds: number; digest: string } => {
  const start = process.hrtime.bigint()
  const result = spawnSync("sha256sum", [input], { encoding: "utf8" })
  const elapsed = seconds(start)
  if (result.status !== 0) throw new Error(`sha256sum failed: ${result.stderr}`)
  return { seconds: elapsed, digest: result.stdout.split(" ")[0]! }
}

const timePut = async (run: number, move: boolean): Promise<{ seconds: number; digest: string }> => {
  const root = join(dir, `store-${run}-${move ? "move" : "copy"}`)
  const layer = layerDisk(root).pipe(Layer.provide(NodeServices.layer))
  const { elapsed, digest, objectPath } = await Effect.runPromise(
    Effect.gen(function* () {
      const store = yield* Store
      const start = process.hrtime.bigint()
      const ref = yield* store.putFile(input, { move })
      return { elapsed: seconds(start), digest: ref.digest, objectPath: store.objectPath(ref.digest) }
    }).pipe(Effect.provide(layer))
  )
  if (move) {
    renameSync(objectPath, input)
    chmodSync(input, 0o644)
  }
  rmSync(root, { recursive: true, force: true })
  return { seconds: elapsed, digest }
}

const mbps = (secondsTaken: number) => size / 1e6 / secondsTaken

try {
  writeRandomFile()
  let ref = Infinity
  let copy = Infinity
  let move = Infinity
  for (let run = 0; run < repeat; run++) {
    const reference = timeSha256sum()
    const copied = await timePut(run, false)
    const moved = await timePut(run, true)
    if (copied.digest !== reference.digest || moved.digest !== reference.digest) {
      throw new Error(`digest mismatch: sha256sum ${reference.digest}, putFile ${copied.digest}, move ${moved.digest}`)
    }
    console.log(
      `run ${run + 1}: sha256sum ${reference.seconds.toFixed(2)} s, putFile ${copied.seconds.toFixed(2)} s, putFile move ${moved.seconds.toFixed(2)} s`
    )
    ref = Math.min(ref, reference.seconds)
    copy = Math.min(copy, copied.seconds)
    move = Math.min(move, moved.seconds)
  }
  console.log(`size ${(size / 2 ** 20).toFixed(0)} MiB, best of ${repeat}`)
  console.log(`sha256sum:      ${mbps(ref).toFixed(0)} MB/s`)
  console.log(`putFile (copy): ${mbps(copy).toFixed(0)} MB/s`)
  console.log(`putFile (move): ${mbps(move).toFixed(0)} MB/s`)
  console.log(`bench store-throughput: ours=${mbps(copy).toFixed(0)} MB/s ref=${mbps(ref).toFixed(0)} MB/s ratio=${(ref / copy).toFixed(2)}`)
} finally {
  rmSync(dir, { recursive: true, force: true })
}
