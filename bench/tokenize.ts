/**
 * Tokens/s of tokenize + mask + pack on GSM8K train with the Qwen3 tokenizer, using worker threads,
 * against HF tokenizers (Rust, `encode_batch`, all cores) on the same rendered texts, measured in
 * the same run. Rendering the chat template comes first and is timed apart (the reference gets the
 * rendered texts for free); the line with template included is printed too.
 *
 *   npx tsx bench/tokenize.ts [--workers 2] [--rows N] [--repeat 3] [--max-seq-length 2048]
 *
 * Each repetition starts fresh workers (empty caches) and times from sending the rows to having
 * every example back, plus packing. The reference starts a fresh Tokenizer per pass and times one
 * encode_batch. The best repetition of each is compared, since other processes on the machine only
 * ever slow a measurement down; the first (cold) passes are printed too.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { parseArgs } from "node:util"
import { Worker } from "node:worker_threads"
import { Effect } from "effect"
import { packDocuments } from "../stages/pack.ts"
import { fixtures } from "../test/support/fixtures.ts"
import { requireOraclePython, runOracle } from "../test/support/oracle.ts"
import type { WorkRequest, WorkResult } from "./tokenize_worker.ts"

const { values } = parseArgs({
  options: {
    workers: { type: "string", default: "2" },
    rows: { type: "string" },
    repeat: { type: "string", default: "3" },
    "max-seq-length": { type: "string", default: "2048" }
  }
})
const workers = Number(values.workers)
const repeat = Number(values.repeat)
const maxSeqLength = Number(values["max-seq-length"])

const tokenizerDir = join(fixtures, "tokenizers", "qwen3")
const dataset = join(fixtures, "datasets", "gsm8k", "train.jsonl")
// The reference runs last: fail before the long measurement if it cannot.
requireOraclePython()

// The load stage's prompt/completion mapping for GSM8K: user = question, assistant = answer.
const lines = readFileSync(dataset, "utf8").split("\n").filter((line) => line.trim() !== "")
const rows = lines.slice(0, values.rows === undefined ? undefined : Number(values.rows)).map((line, i) => {
  const row = JSON.parse(line) as { question: string; answer: string }
  return {
    messages: [{ role: "user", content: row.question }, { role: "assistant", content: row.answer }],
    source: `train.jsonl:${i + 1}`
  }
})

// Node 20 does not apply the main thread's tsx loader to a worker's entry file, so the worker
// registers tsx itself before importing the TypeScript module.
const workerBootstrap = `import("tsx/esm/api").then(({ register }) => { register(); return import(${
  JSON.stringify(new URL("./tokenize_worker.ts", import.meta.url).href)
}) })`

const startWorkers = () =>
  Promise.all(Array.from({ length: workers }, () =>
    new Promise<Worker>((resolve, reject) => {
      const worker = new Worker(workerBootstrap, { eval: true, workerData: { tokenizerDir } })
      worker.once("message", () => resolve(worker))
      worker.once("error", reject)
    })))

const runOnce = async () => {
  const pool = await startWorkers()
  const chunk = Math.ceil(rows.length / workers)
  const ask = <A>(request: (w: number) => WorkRequest) =>
    Promise.all(pool.map((worker, w) =>
      new Promise<A>((resolve, reject) => {
        worker.once("message", resolve)
        worker.once("error", reject)
        worker.postMessage(request(w))
      })))
  const renderStart = performance.now()
  await ask<"rendered">((w) => ({ rows: rows.slice(w * chunk, (w + 1) * chunk) }))
  const start = performance.now()
  const results = await ask<WorkResult>(() => "tokenize")
  const tokenized = performance.now()
  const documents = results.flatMap((r) => r.inputIds.map((inputIds, i) => ({ inputIds, labels: r.labels[i]!, source: r.sources[i]! })))
  const packed = await Effect.runPromise(packDocuments(documents, { maxSeqLength, packing: true }, 0))
  const end = performance.now()
  await Promise.all(pool.map((worker) => worker.terminate()))
  return {
    seconds: (end - start) / 1000,
    renderSeconds: (start - renderStart) / 1000,
    packSeconds: (end - tokenized) / 1000,
    tokens: results.reduce((n, r) => n + r.tokens, 0),
    trained: results.reduce((n, r) => n + r.trainedTokens, 0),
    texts: results.flatMap((r) => r.texts),
    packedRows: packed.columns.offsets.length - 1
  }
}

const ours: Array<Awaited<ReturnType<typeof runOnce>>> = []
for (let i = 0; i < repeat; i++) ours.push(await runOnce())
const texts = ours[0]!.texts

const dir = mkdtempSync(join(tmpdir(), "bench-tokenize-"))
const textsPath = join(dir, "texts.json")
writeFileSync(textsPath, JSON.stringify(texts))
const reference = (() => {
  try {
    return JSON.parse(runOracle(fileURLToPath(new URL("./tokenize_ref.py", import.meta.url)), [join(tokenizerDir, "tokenizer.json"), textsPath, String(repeat)])) as {
      tokens: number
      first: number
      best: number
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})()

// The post-processor adds nothing for Qwen3, so both sides must count the same tokens.
if (reference.tokens !== ours[0]!.tokens) throw new Error(`token counts differ: ours ${ours[0]!.tokens}, ref ${reference.tokens}`)

const tokens = reference.tokens
const best = Math.min(...ours.map((o) => o.seconds))
const rate = (seconds: number) => Math.round(tokens / seconds)
console.log(`rows ${rows.length}, tokens ${tokens}, trained ${ours[0]!.trained}, packed rows ${ours[0]!.packedRows} (maxSeqLength ${maxSeqLength}), workers ${workers}`)
const fastest = ours.find((o) => o.seconds === best)!
const bestWithTemplate = Math.min(...ours.map((o) => o.seconds + o.renderSeconds))
console.log(`ours (tokenize+mask+pack): first ${rate(ours[0]!.seconds)} tok/s, best ${rate(best)} tok/s over ${repeat} (${best.toFixed(2)} s, of which pack ${fastest.packSeconds.toFixed(2)} s)`)
console.log(`ours with the chat template rendered too: best ${rate(bestWithTemplate)} tok/s (ratio ${(reference.best / bestWithTemplate).toFixed(3)})`)
console.log(`ref  (HF tokenizers encode_batch):   first ${rate(reference.first)} tok/s, best ${rate(reference.best)} tok/s over ${repeat}`)
console.log(`bench tokenize: ours=${rate(best)} tok/s ref=${rate(reference.best)} tok/s ratio=${(reference.best / best).toFixed(3)}`)
