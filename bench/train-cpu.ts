/**
 * Training throughput of the native CPU engine against PyTorch, measured in the same run.
 *
 * Reference configuration: a Llama with vocab 8192, hidden 384, 6 layers, 6 heads, 2 KV heads,
 * FFN 1024; a step is 8 documents of 256 tokens (2048 tokens) through forward, backward, gradient
 * clipping and AdamW. Ours: NativeModel with one thread on the documents packed into one batch.
 * PyTorch: transformers' LlamaForCausalLM in fp32 with torch.set_num_threads(1) on the same shapes
 * (8 rows of 256), torch.optim.AdamW. Steps alternate, ours then PyTorch's, so both see the same
 * load from whatever else shares the machine; neither runs while the other does. Warm-up steps first,
 * then timed steps; tokens/s are per second of the process's CPU time (see `report`).
 *
 *   npx tsx bench/train-cpu.ts [--steps 5] [--warmup 2]
 *
 * FLOPs per step (stated, not measured): 6·N·T + 6·L·H·D·S·T, where N counts the parameters that
 * take part in matrix products (every linear and lm_head; not the embedding lookup), T the tokens of
 * the step, S the document length: 6·N·T for forward + backward of the linears, and causal attention's
 * QKᵀ and AV, 2·2·(S²/2)·H·D per layer and document forward, ×3 with backward.
 */
import { Effect } from "effect"
import { spawn } from "node:child_process"
import { fileURLToPath } from "node:url"
import { createInterface } from "node:readline"
import { parseArgs } from "node:util"
import { parseHfConfig, parameterShapes } from "../native/hfConfig.ts"
import { NativeModel } from "../native/index.ts"
import type { AdamWOptions, Batch } from "../native/index.ts"
import { initWeights } from "../native/init.ts"
import { oracleEnv, requireOraclePython } from "../test/support/oracle.ts"

const { values: args } = parseArgs({
  options: { steps: { type: "string", default: "5" }, warmup: { type: "string", default: "2" } }
})
const steps = Number(args.steps)
const warmup = Number(args.warmup)

const batchRows = 8
const seq = 256
const configJson = {
  architectures: ["LlamaForCausalLM"],
  model_type: "llama",
  vocab_size: 8192,
  hidden_size: 384,
  intermediate_size: 1024,
  num_hidden_layers: 6,
  num_attention_heads: 6,
  num_key_value_heads: 2,
  max_position_embeddings: seq,
  rms_norm_eps: 1e-5,
  rope_theta: 10000,
  tie_word_embeddings: false,
  initializer_range: 0.02
}
const adam: AdamWOptions = { lr: 1e-4, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.01, maxGradNorm: 1.0 }

const { config } = Effect.runSync(parseHfConfig(configJson, "bench/train-cpu.ts"))
const tokens = batchRows * seq
const matmulParams = Object.entries(parameterShapes(config))
  .filter(([name, shape]) => shape.length === 2 && name !== "model.embed_tokens.weight")
  .reduce((n, [, shape]) => n + shape[0]! * shape[1]!, 0)
const flopsPerStep = 6 * matmulParams * tokens + 6 * config.numLayers * config.numHeads * config.headDim * seq * tokens

interface Timing { readonly wall: number; readonly cpu: number; readonly loss: number }

const mib = (kib: number) => `${(kib / 1024).toFixed(0)} MiB`
// Throughput per second of the process's CPU time: one thread, so on an idle machine it equals the
// wall-clock figure, and on a shared one it does not count the time other jobs held the core.
const report = (name: string, timings: ReadonlyArray<Timing>, maxRssKib: number): number => {
  const cpu = timings.reduce((a, t) => a + t.cpu, 0)
  const wall = timings.reduce((a, t) => a + t.wall, 0)
  const tokPerS = (tokens * timings.length) / cpu
  console.log(
    `${name.padEnd(8)} ${tokPerS.toFixed(0).padStart(6)} tok/s  ${((flopsPerStep * timings.length) / cpu / 1e9).toFixed(1).padStart(5)} GFLOP/s ` +
      `(per CPU second; wall clock ${((tokens * timings.length) / wall).toFixed(0)} tok/s)  peak RSS ${mib(maxRssKib)}`
  )
  return tokPerS
}

console.log(
  `bench train-cpu: Llama vocab ${config.vocabSize}, hidden ${config.hiddenSize}, ${config.numLayers} layers, ` +
    `${config.numHeads} heads / ${config.numKvHeads} KV heads, FFN ${config.intermediateSize}; ${batchRows} documents × ${seq} = ${tokens} tokens/step; ` +
    `fwd+bwd+clip+AdamW, fp32, 1 thread; ${warmup} warm-up + ${steps} timed steps`
)
console.log(
  `FLOPs/step = 6·N·T + 6·L·H·D·S·T = 6·${matmulParams}·${tokens} + 6·${config.numLayers}·${config.numHeads}·${config.headDim}·${seq}·${tokens} = ${(flopsPerStep / 1e9).toFixed(1)} GFLOP`
)

// PyTorch runs in its own process, driven step by step so its steps interleave with ours.
const python = spawn(requireOraclePython(), [fileURLToPath(new URL("./train_cpu_ref.py", import.meta.url))], {
  stdio: ["pipe", "pipe", "inherit"],
  env: { ...oracleEnv(), OMP_NUM_THREADS: "1", MKL_NUM_THREADS: "1" }
})
const replies = createInterface({ input: python.stdout })[Symbol.asyncIterator]()
const ask = async (line: string): Promise<Record<string, number>> => {
  python.stdin.write(line + "\n")
  const next = await replies.next()
  if (next.done === true) throw new Error("bench/train_cpu_ref.py exited early (see its stderr above)")
  return JSON.parse(next.value) as Record<string, number>
}
await ask(JSON.stringify({
  config: configJson, batch: batchRows, seq, seed: 0,
  adam: { lr: adam.lr, beta1: adam.beta1, beta2: adam.beta2, eps: adam.eps, weight_decay: adam.weightDecay, max_grad_norm: adam.maxGradNorm }
}))

// Ours: the same documents' shapes packed into one batch, positions reset per document.
let state = 1
const nextToken = () => (state = (Math.imul(state, 1103515245) + 12345) >>> 0) % config.vocabSize
const inputIds = Int32Array.from({ length: tokens }, nextToken)
const labels = inputIds.map((id, i) => (i % seq === 0 ? -100 : id))
const batch: Batch = {
  inputIds,
  labels,
  positionIds: Int32Array.from({ length: tokens }, (_, i) => i % seq),
  cuSeqlens: Int32Array.from({ length: batchRows + 1 }, (_, i) => i * seq)
}
const model = NativeModel.create(config, initWeights(config, { seed: 0, initializerRange: 0.02 }), { threads: 1 })

const ours: Array<Timing> = [], theirs: Array<Timing> = []
for (let step = 0; step < warmup + steps; step++) {
  const wall = performance.now()
  const cpu = process.cpuUsage()
  const { lossSum, tokens: scored } = await model.accumulate(batch)
  await model.step(scored, adam)
  const used = process.cpuUsage(cpu)
  const mine = { wall: (performance.now() - wall) / 1000, cpu: (used.user + used.system) / 1e6, loss: lossSum / scored }
  const ref = await ask("step")
  const their = { wall: ref.wall!, cpu: ref.cpu!, loss: ref.loss! }
  console.log(`step ${step + 1}${step < warmup ? " (warm-up)" : ""}: ours ${mine.wall.toFixed(2)} s (cpu ${mine.cpu.toFixed(2)} s) loss ${mine.loss.toFixed(3)}; pytorch ${their.wall.toFixed(2)} s (cpu ${their.cpu.toFixed(2)} s) loss ${their.loss.toFixed(3)}`)
  if (step >= warmup) {
    ours.push(mine)
    theirs.push(their)
  }
}
const { max_rss_kib } = await ask("done")

const oursTokPerS = report("ours", ours, process.resourceUsage().maxRSS)
const refTokPerS = report("pytorch", theirs, max_rss_kib!)
console.log("peak RSS is the whole process: Node's or Python's own footprint (with torch imported) included")
console.log(
  `bench train-cpu: ours=${oursTokPerS.toFixed(0)} tok/s ref=${refTokPerS.toFixed(0)} tok/s ratio=${(oursTokPerS / refTokPerS).toFixed(2)}`
)
