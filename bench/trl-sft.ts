/**
 * The SFT job of test/stages/trlSftJob.ts end to end, ours against TRL's SFTTrainer (the oracle),
 * measured in the same run: 256 GSM8K prompt/completion rows, the Qwen3 tokenizer and template, a
 * tiny random Qwen3 from transformers, 30 steps of 2 rows × 2 accumulated, on `--threads` threads.
 *
 *   npx tsx bench/trl-sft.ts [--threads 1] [--repeat 1]
 *
 * ours = wall time of `node bin/pipeline.js run` on the job's pipeline file with an empty store
 *        (start-up, bundling, load, template, tokenize, pack, train, storing every output);
 * ref  = wall time of oracle/trl_sft.py on the same files (Python start-up, imports, TRL's
 *        tokenization and training); ratio = ref / ours. The model and data are written first and
 *        timed on neither side. Best of `--repeat`: other processes only ever slow a run down. Both
 *        final losses are printed, to show the two ran the same job (the test compares every step).
 */
import { spawnSync } from "node:child_process"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { parseArgs } from "node:util"
import { requireOraclePython } from "../test/support/oracle.ts"
import { ourOrder, prepareJob, runTrl } from "../test/stages/trlSftJob.ts"
import { job } from "../test/stages/trlSftPipeline.ts"

const root = join(dirname(fileURLToPath(import.meta.url)), "..")
const { values } = parseArgs({ options: { threads: { type: "string", default: "1" }, repeat: { type: "string", default: "1" } } })
const threads = Number(values.threads)
const repeat = Number(values.repeat)
requireOraclePython()

const dir = mkdtempSync(join(tmpdir(), "bench-trl-sft-"))
const files = prepareJob(dir)
const pipelineFile = join(dir, "trl-sft.ts")
writeFileSync(
  pipelineFile,
  [
    `import { definePipeline } from ${JSON.stringify(join(root, "src", "index.ts"))}`,
    `import { job, ourJob } from ${JSON.stringify(join(root, "test", "stages", "trlSftPipeline.ts"))}`,
    `export default definePipeline({ name: "trl-sft", seed: job.seed }, ourJob(${JSON.stringify(files)}, ${threads}))`,
    ""
  ].join("\n")
)

/** One run of ours in a fresh store: its wall time and the last step's loss. */
const runOurs = (attempt: number): { seconds: number; loss: number } => {
  const store = join(dir, `store-${attempt}`)
  const env = { ...process.env, PIPELINE_STORE: store, NO_COLOR: "1" }
  const start = performance.now()
  const run = spawnSync(process.execPath, [join(root, "bin", "pipeline.js"), "run", pipelineFile], { cwd: dir, encoding: "utf8", env })
  const seconds = (performance.now() - start) / 1000
  if (run.status !== 0) throw new Error(`pipeline run failed:\n${run.stdout}\n${run.stderr}`)
  const show = spawnSync(process.execPath, [join(root, "bin", "pipeline.js"), "show", "last", "--json"], { cwd: dir, encoding: "utf8", env })
  const record = JSON.parse(show.stdout) as { stages: Array<{ name: string; metrics?: Record<string, number> }> }
  return { seconds, loss: record.stages.find((s) => s.name === "train")!.metrics!.trainLoss! }
}

const order = ourOrder()
let ours = { seconds: Number.POSITIVE_INFINITY, loss: Number.NaN }
let ref = { seconds: Number.POSITIVE_INFINITY, loss: Number.NaN }
try {
  for (let attempt = 0; attempt < repeat; attempt++) {
    const mine = runOurs(attempt)
    console.log(`ours: ${mine.seconds.toFixed(1)} s, loss after step ${job.maxSteps} ${mine.loss.toFixed(5)}`)
    if (mine.seconds < ours.seconds) ours = mine
    const start = performance.now()
    const trl = runTrl(files, dir, order, threads)
    const seconds = (performance.now() - start) / 1000
    console.log(`TRL:  ${seconds.toFixed(1)} s, loss after step ${job.maxSteps} ${trl.losses.at(-1)!.toFixed(5)}`)
    if (seconds < ref.seconds) ref = { seconds, loss: trl.losses.at(-1)! }
  }
} finally {
  rmSync(dir, { recursive: true, force: true })
}
console.log(`bench trl-sft: ours=${ours.seconds.toFixed(2)} s ref=${ref.seconds.toFixed(2)} s ratio=${(ref.seconds / ours.seconds).toFixed(2)}`)
