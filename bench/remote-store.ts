/**
 * What a shared store costs: a fully cached run of pipelines/example.ts (8 stages) against an S3
 * bucket through its local cache, versus against the disk store; and, with `--executor slurm`, the
 * time from `sbatch` to a stage's job running.
 *
 *   npx tsx bench/remote-store.ts [--repeat N]     (needs Ceph and Slurm installed, as .ci/run does; root)
 *
 * Starts radosgw and a one-node Slurm (test/support), stops them by PID at the end.
 * Cached runs: wall time of the CLI, best of N (other processes only ever slow one down).
 * sbatch → start: what the driver reports per job ("started after"), which it sees when it polls
 * (every 200 ms), so it is an upper bound within 200 ms.
 * ours = the cached run against S3, ref = the same against disk; ratio = ref / ours.
 */
import { spawnSync } from "node:child_process"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { parseArgs } from "node:util"
import { startRgw } from "../test/support/rgw.ts"
import { startSlurm } from "../test/support/slurm.ts"

const root = join(dirname(fileURLToPath(import.meta.url)), "..")
const { values } = parseArgs({ options: { repeat: { type: "string", default: "5" } } })
const repeat = Number(values.repeat)
const bin = join(root, "bin", "pipeline.js")
const example = join(root, "pipelines", "example.ts")
const work = mkdtempSync(join(tmpdir(), "bench-remote-store-"))

const pipeline = (...args: ReadonlyArray<string>) => {
  const started = process.hrtime.bigint()
  const result = spawnSync(process.execPath, [bin, ...args], { cwd: work, encoding: "utf8", env: { ...process.env, NO_COLOR: "1" } })
  const ms = Number(process.hrtime.bigint() - started) / 1e6
  if (result.status !== 0) throw new Error(`pipeline ${args.join(" ")} failed:\n${result.stderr}${result.stdout}`)
  return { ms, stdout: result.stdout }
}

const best = (args: ReadonlyArray<string>) => {
  let fastest = Infinity
  for (let i = 0; i < repeat; i++) {
    const { ms, stdout } = pipeline(...args)
    if (!stdout.includes("8 cached, 0 ran")) throw new Error(`not a fully cached run:\n${stdout}`)
    fastest = Math.min(fastest, ms)
  }
  return fastest
}

const rgw = await startRgw()
const slurm = await startSlurm()
try {
  await rgw.createBucket("bench")
  const disk = ["run", example, "--store", join(work, "disk")]
  const s3 = ["run", example, "--store", "s3://bench/example", "--cache", join(work, "cache")]
  pipeline(...disk)
  const computed = pipeline(...s3, "--executor", "slurm")
  const starts = [...computed.stdout.matchAll(/slurm job \d+ started after ([\d.]+) s/g)].map((match) => Number(match[1])).sort((a, b) => a - b)
  const diskMs = best(disk)
  const s3Ms = best(s3)
  const median = starts[Math.floor(starts.length / 2)]!
  console.log(`cached example run: disk store ${diskMs.toFixed(0)} ms, S3 bucket through a warm cache ${s3Ms.toFixed(0)} ms (best of ${repeat})`)
  console.log(`sbatch → stage job running (${starts.length} jobs): median ${median.toFixed(2)} s, min ${starts[0]!.toFixed(2)} s, max ${starts.at(-1)!.toFixed(2)} s`)
  console.log(`bench remote-store: ours=${s3Ms.toFixed(0)} ms ref=${diskMs.toFixed(0)} ms ratio=${(diskMs / s3Ms).toFixed(2)}`)
} finally {
  await slurm.stop()
  await rgw.stop()
  rmSync(work, { recursive: true, force: true })
}
