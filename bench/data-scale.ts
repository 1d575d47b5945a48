/**
 * Data stages at dataset scale: load → template → tokenize → pack of a seeded synthetic JSON
 * Lines dataset (multi-turn, system prompts, tool calls in some rows; test/support/syntheticChats.ts)
 * of `--gb` gigabytes, through the real CLI with the Qwen3 tokenizer and template, against TRL's
 * own preprocessing of the same file (bench/data_scale_ref.py: `datasets.load_dataset("json")` and
 * SFTTrainer's tokenization and BFD packing with `dataset_num_proc` = `--workers`), measured in the
 * same run.
 *
 *   npx tsx bench/data-scale.ts [--gb 0.2] [--workers <cores>] [--batch-size 10000] [--no-ref]
 *
 * Both sides: wall time of the whole process (start-up included), tokens = packed input ids, and
 * peak RSS of the process tree (sampled every 100 ms, summed over the process and its children:
 * TRL's `num_proc` workers are processes, ours are threads). Both tokenize every token (ours
 * `mode: "all"`, TRL's default for conversations) at max_length 1024. ratio = ours / ref tokens/s.
 * The dataset is written once to bench/out/ and reused; our store is fresh each run.
 */
import { spawn } from "node:child_process"
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs"
import { availableParallelism, tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { parseArgs } from "node:util"
import { fixtures } from "../test/support/fixtures.ts"
import { oracleEnv, requireOraclePython } from "../test/support/oracle.ts"
import { writeSyntheticChats } from "../test/support/syntheticChats.ts"

const root = join(dirname(fileURLToPath(import.meta.url)), "..")
const { values } = parseArgs({
  options: {
    gb: { type: "string", default: "0.2" },
    workers: { type: "string", default: String(availableParallelism()) },
    "batch-size": { type: "string", default: "10000" },
    "no-ref": { type: "boolean", default: false }
  }
})
const gb = Number(values.gb)
const workers = Number(values.workers)
const qwen3 = join(fixtures, "tokenizers", "qwen3")
const python = values["no-ref"] ? undefined : requireOraclePython()

/** The RSS of `pid` and all its descendants, in bytes (0 once it is gone). */
const treeRss = (pid: number): number => {
  const children = new Map<number, Array<number>>()
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8")
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1])
      children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)])
    } catch {
      // gone meanwhile
    }
  }
  let rss = 0
  const visit = (p: number) => {
    try {
      const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${p}/status`, "utf8"))
      rss += Number(match?.[1] ?? 0) * 1024
    } catch {
      return
    }
    for (const child of children.get(p) ?? []) visit(child)
  }
  visit(pid)
  return rss
}

/** Runs a command; its wall time, output and the peak RSS of its process tree. */
const measure = (command: string, args: ReadonlyArray<string>, env: NodeJS.ProcessEnv) =>
  new Promise<{ seconds: number; stdout: string; peakRss: number }>((resolve, reject) => {
    const start = performance.now()
    const child = spawn(command, args, { cwd: root, env, stdio: ["ignore", "pipe", "pipe"] })
    let stdout = ""
    let stderr = ""
    let peakRss = 0
    child.stdout.on("data", (chunk) => (stdout += chunk))
    child.stderr.on("data", (chunk) => (stderr += chunk))
    const sampler = setInterval(() => (peakRss = Math.max(peakRss, treeRss(child.pid!))), 100)
    child.on("close", (code) => {
      clearInterval(sampler)
      const seconds = (performance.now() - start) / 1000
      if (code !== 0) reject(new Error(`${command} ${args.join(" ")} failed (${code}):\n${stdout}\n${stderr}`))
      else resolve({ seconds, stdout, peakRss })
    })
  })

const mb = (bytes: number) => `${(bytes / 2 ** 20).toFixed(0)} MiB`
const line = (name: string, r: { rows: number; tokens: number; seconds: number; peakRss: number }) =>
  console.log(
    `${name}: ${r.rows} rows, ${r.tokens} tokens, ${r.seconds.toFixed(1)} s, ${(r.tokens / r.seconds).toFixed(0)} tokens/s, peak RSS ${mb(r.peakRss)}`
  )

const data = join(root, "bench", "out", `data-scale-${gb}gb.jsonl`)
mkdirSync(dirname(data), { recursive: true })
const wanted = Math.round(gb * 1e9)
if (!existsSync(data) || statSync(data).size < wanted) {
  const written = await writeSyntheticChats(data, 12, { bytes: wanted })
  console.log(`wrote ${data}: ${written.rows} rows, ${mb(written.bytes)}`)
}

const work = mkdtempSync(join(tmpdir(), "bench-data-scale-"))
try {
  const store = join(work, "store")
  const cli = join(root, "bin", "pipeline.js")
  const env = { ...process.env, PIPELINE_STORE: store, NO_COLOR: "1" }
  const run = await measure(process.execPath, [
    cli, "run", "bench/dataScalePipeline.ts",
    "--set", `data.path=${data}`, "--set", `qwen3.path=${qwen3}`,
    "--workers", String(workers), "--batch-size", String(values["batch-size"])
  ], env)
  const show = await measure(process.execPath, [cli, "show", "last", "--json"], env)
  const stages = (JSON.parse(show.stdout) as { stages: Array<{ name: string; metrics?: Record<string, number> }> }).stages
  const metric = (stage: string, name: string) => stages.find((s) => s.name === stage)!.metrics![name]!
  const ours = { rows: metric("load", "rowsRead"), tokens: metric("pack", "tokens"), seconds: run.seconds, peakRss: run.peakRss }
  line(`ours (${workers} workers)`, ours)
  if (python === undefined) {
    console.log(`bench data-scale: ours=${(ours.tokens / ours.seconds).toFixed(0)} tokens/s ref=n/a tokens/s ratio=n/a`)
  } else {
    const script = join(root, "bench", "data_scale_ref.py")
    const ref = await measure(python, [script, data, qwen3, work, String(workers)], { ...oracleEnv(), OMP_NUM_THREADS: "1" })
    const result = JSON.parse(ref.stdout.trim().split("\n").at(-1)!) as { rows: number; tokens: number; seconds: number }
    line(`TRL (dataset_num_proc=${workers})`, { ...result, seconds: ref.seconds, peakRss: ref.peakRss })
    console.log(`  (TRL's load_dataset through packing alone: ${result.seconds.toFixed(1)} s)`)
    const oursRate = ours.tokens / ours.seconds
    const refRate = result.tokens / ref.seconds
    console.log(`bench data-scale: ours=${oursRate.toFixed(0)} tokens/s ref=${refRate.toFixed(0)} tokens/s ratio=${(oursRate / refRate).toFixed(2)}`)
  }
} finally {
  rmSync(work, { recursive: true, force: true })
}
