/**
 * Overhead of a fully cached 8-stage run (pipelines/example.ts) beyond Node's own start-up.
 *
 *   npx tsx bench/cached-run.ts [--repeat N]
 *
 * Four commands are timed, best of N (other processes only ever slow a measurement down), by the
 * CPU time (user + sys) the child used, which other jobs on a shared machine inflate far less than
 * wall time; on Linux it is read from /proc (children's times), elsewhere wall time is used instead:
 *   node -e 0                                      Node's start-up
 *   node bin/pipeline.js --help                    the CLI's start-up: checking and running its
 *                                                  bundle (Effect, Arrow, the engine), parsing arguments
 *   node bin/pipeline.js run <example> (cached)    the CLI plus checking and running the pipeline's
 *                                                  bundle, code digests, keys, 8 record + object checks
 *   node --import tsx src/cli/main.ts run <example> (cached)
 *                                                  the same CLI run the usual way for TypeScript, one
 *                                                  module at a time through tsx's loader
 * ours = cached run − node start-up: the number the goal is about (under 0.3 s).
 * ref  = the same cached run through tsx − node start-up; ratio = ref / ours.
 */
import { spawnSync } from "node:child_process"
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { parseArgs } from "node:util"

const root = join(dirname(fileURLToPath(import.meta.url)), "..")
const { values } = parseArgs({ options: { repeat: { type: "string", default: "5" } } })
const repeat = Number(values.repeat)
const store = mkdtempSync(join(tmpdir(), "bench-cached-run-"))
const bin = join(root, "bin", "pipeline.js")
const example = join(root, "pipelines", "example.ts")

/** CPU seconds (user + sys) of all waited-for children so far, from /proc/self/stat; undefined off Linux. */
const childrenCpu = (): number | undefined => {
  if (!existsSync("/proc/self/stat")) return undefined
  // Fields after the parenthesised command name; cutime and cstime are fields 16 and 17 (1-based).
  const fields = readFileSync("/proc/self/stat", "utf8").replace(/^.*\) /s, "").split(" ")
  const ticksPerSecond = 100
  return (Number(fields[13]) + Number(fields[14])) / ticksPerSecond
}

const cpuClock = childrenCpu() !== undefined

const time = (args: ReadonlyArray<string>): { seconds: number; stdout: string } => {
  const cpuStart = childrenCpu()
  const start = process.hrtime.bigint()
  const result = spawnSync(process.execPath, args, { cwd: root, encoding: "utf8", env: { ...process.env, PIPELINE_STORE: store } })
  const wall = Number(process.hrtime.bigint() - start) / 1e9
  if (result.status !== 0) throw new Error(`${args.join(" ")} failed: ${result.stderr}`)
  return { seconds: cpuClock ? childrenCpu()! - cpuStart! : wall, stdout: result.stdout }
}

const best = (args: ReadonlyArray<string>, check?: (stdout: string) => void): number => {
  let min = Number.POSITIVE_INFINITY
  for (let i = 0; i < repeat; i++) {
    const { seconds, stdout } = time(args)
    check?.(stdout)
    min = Math.min(min, seconds)
  }
  return min
}

try {
  const first = time([bin, "run", example])
  if (!/8 stages, 0 cached, 8 ran/.test(first.stdout)) throw new Error(`unexpected first run: ${first.stdout}`)
  const node = best(["-e", "0"])
  const help = best([bin, "--help"])
  const fullyCached = (stdout: string) => {
    if (!/8 stages, 8 cached, 0 ran/.test(stdout)) throw new Error(`run was not fully cached: ${stdout}`)
  }
  const cached = best([bin, "run", example], fullyCached)
  const throughTsx = best(["--import", "tsx", join(root, "src", "cli", "main.ts"), "run", example], fullyCached)
  const ours = cached - node
  const ref = throughTsx - node
  const clock = cpuClock ? "CPU time" : "wall time"
  console.log(`node start-up ${node.toFixed(3)} s, CLI start-up ${help.toFixed(3)} s, cached 8-stage run ${cached.toFixed(3)} s, the same through tsx ${throughTsx.toFixed(3)} s (${clock}, best of ${repeat})`)
  console.log(`goal: cached-run overhead under 0.3 s: ${ours < 0.3 ? "met" : "not met"} (${ours.toFixed(3)} s)`)
  console.log(`bench cached-run: ours=${ours.toFixed(3)} s ref=${ref.toFixed(3)} s ratio=${(ref / ours).toFixed(2)}`)
} finally {
  rmSync(store, { recursive: true, force: true })
}
