/**
 * Training throughput of the cuda backend against transformers + PyTorch on the same GPU, in one run.
 *
 * A Qwen2.5-0.5B-shaped model (hidden 896, 24 layers, 14 heads / 2 KV heads, FFN 4864, vocab 151936,
 * QKV bias, tied embeddings), full fine-tuning, rows of 2048 tokens packed from documents of mixed
 * lengths (bench/train-gpu.json, which the reference reads too), bf16 mixed precision (fp32 master weights and moments). Ours: NativeModel with backend
 * cuda; reference: bench/train_gpu_ref.py (HF bf16 autocast, sdpa, fused AdamW) on the same rows,
 * run after ours so the two never share the GPU. Reports tokens/s, MFU against the dense bf16 peak
 * of an H100 SXM / H200 (989 TFLOP/s) and peak GPU memory.
 *
 *   npx tsx bench/train-gpu.ts [--json out.json]          (shapes, steps and documents: bench/train-gpu.json)
 *
 * FLOPs per step (stated): 6·N·T for the linears (N: parameters in matrix products, lm_head included,
 * not the embedding lookup; T tokens) + causal attention's QKᵀ and AV, 6·L·H·D·Σ S² over documents of
 * length S (2·2·S²/2·H·D per layer forward, ×3 with backward).
 */
import { Effect } from "effect"
import { execFileSync } from "node:child_process"
import { readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { parseArgs } from "node:util"
import { parameterShapes, parseHfConfig } from "../native/hfConfig.ts"
import { backendUnavailable, NativeModel } from "../native/index.ts"
import type { Batch } from "../native/index.ts"
import { initWeights } from "../native/init.ts"

const { values: args } = parseArgs({ options: { json: { type: "string" } } })
// From the repo root, as every bench runs: a bundled copy (native/cuda/pack-device.sh) finds them too.
const specPath = join(process.cwd(), "bench", "train-gpu.json")
const spec = JSON.parse(readFileSync(specPath, "utf8")) as {
  config: Record<string, unknown>; lengths: Array<number>; rows: number; steps: number; warmup: number
}
const { rows, steps, warmup, lengths } = spec
const peak = 989e12
const { config } = Effect.runSync(parseHfConfig(spec.config, "bench/train-gpu.json"))
let state = 7
const next = (n: number) => (state = (Math.imul(state, 1103515245) + 12345) >>> 0) % n
const tokens = rows * 2048
const matmulParams = Object.entries(parameterShapes(config))
  .filter(([name, shape]) => shape.length === 2 && name !== "model.embed_tokens.weight")
  .reduce((n, [, shape]) => n + shape[0]! * shape[1]!, 0) + (config.tieWordEmbeddings ? config.vocabSize * config.hiddenSize : 0)
const flopsPerStep = 6 * matmulParams * tokens +
  6 * config.numLayers * config.numHeads * config.headDim * rows * lengths.reduce((s, n) => s + n * n, 0)

const batch = (): Batch => {
  const ids = Int32Array.from({ length: tokens }, () => next(config.vocabSize))
  const docStarts = new Set<number>()
  const cu = [0]
  for (let r = 0; r < rows; r++) for (const n of lengths) {
    docStarts.add(cu[cu.length - 1]!)
    cu.push(cu[cu.length - 1]! + n)
  }
  return {
    inputIds: ids,
    labels: ids.map((id, i) => (docStarts.has(i) ? -100 : id)),
    positionIds: Int32Array.from(cu.slice(0, -1).flatMap((c, d) => Array.from({ length: cu[d + 1]! - c }, (_, i) => i))),
    cuSeqlens: Int32Array.from(cu)
  }
}

// Before drawing half a billion weights: fail at once where the backend cannot run.
const missing = backendUnavailable("cuda")
if (missing !== undefined) throw new Error(`bench train-gpu: ${missing}`)
const model = NativeModel.create(config, initWeights(config, { seed: 0, initializerRange: 0.02 }), { backend: "cuda" })
const b = batch()
const adam = { lr: 1e-4, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.01, maxGradNorm: 1 }
let started = 0
for (let s = 0; s < warmup + steps; s++) {
  if (s === warmup) started = performance.now()
  const { tokens: scored } = await model.accumulate(b)
  await model.step(scored, adam)
}
const oursTokPerS = (tokens * steps) / ((performance.now() - started) / 1000)

const python = process.env.SFT_GPU_PYTHON ?? "python3"
const ref = JSON.parse(execFileSync(python, [join(process.cwd(), "bench", "train_gpu_ref.py"), specPath],
  { encoding: "utf8" }).trim().split("\n").pop()!) as
  { tokens_per_s: number; peak_bytes: number; loss: number }

const mfu = (tokPerS: number) => (tokPerS / tokens) * flopsPerStep / peak
console.log(`${rows} rows × 2048 tokens (${lengths.length} documents a row); ${(flopsPerStep / 1e12).toFixed(2)} TFLOP/step`)
console.log(`ours ${oursTokPerS.toFixed(0)} tok/s MFU ${(100 * mfu(oursTokPerS)).toFixed(1)}%`)
console.log(`ref  ${ref.tokens_per_s.toFixed(0)} tok/s MFU ${(100 * mfu(ref.tokens_per_s)).toFixed(1)}% peak ${(ref.peak_bytes / 2 ** 30).toFixed(1)} GiB`)
if (args.json !== undefined)
  writeFileSync(args.json, JSON.stringify({ ours: { tokens_per_s: oursTokPerS, mfu: mfu(oursTokPerS) }, ref: { ...ref, mfu: mfu(ref.tokens_per_s) } }))
console.log(`bench train-gpu: ours=${oursTokPerS.toFixed(0)} tok/s ref=${ref.tokens_per_s.toFixed(0)} tok/s ratio=${(oursTokPerS / ref.tokens_per_s).toFixed(2)}`)
