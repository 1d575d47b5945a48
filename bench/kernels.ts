/**
 * Kernel benchmark: each native op at the reference training shapes (vocab 8192, hidden 384, 6 heads /
 * 2 KV heads, head dim 64, FFN 1024, 8 documents x 256 = 2048 tokens) against the PyTorch op doing the same
 * math, both fp32 on one thread. Times are CPU time (process.cpuUsage here, time.thread_time in Python), best
 * of --reps, so other jobs sharing the machine inflate them less than wall time would.
 *
 *   npx tsx bench/kernels.ts [--reps 5]
 *
 * Needs the addon (native/build) and the oracle Python (test/support/oracle.ts) for the PyTorch column.
 */
import { createRequire } from "node:module"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { parseArgs } from "node:util"
import { runOracle } from "../test/support/oracle.ts"

const here = dirname(fileURLToPath(import.meta.url))
const { values: args } = parseArgs({ options: { reps: { type: "string", default: "5" } } })
const reps = Number(args.reps)

type Op = (...a: ReadonlyArray<unknown>) => unknown
const ops = (createRequire(import.meta.url)(join(here, "..", "native", "build", "Release", "sft_native.node")) as {
  ops: Record<string, Op>
}).ops
ops.set_num_threads!(1)

const N = 2048, C = 384, V = 8192, H = 6, KVH = 2, D = 64, F = 1024, S = 256
// [name, out features, in features] of every linear in a layer
const linears: ReadonlyArray<readonly [string, number, number]> = [
  ["q", H * D, C],
  ["k/v", KVH * D, C],
  ["o", C, H * D],
  ["gate/up", F, C],
  ["down", C, F]
]

const random = (n: number, seed: number): Float32Array => {
  const out = new Float32Array(n)
  let s = seed >>> 0
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0
    out[i] = s / 2 ** 31 - 1
  }
  return out
}

const best = (fn: () => void): number => {
  fn()
  let t = Infinity
  for (let r = 0; r < reps; r++) {
    const start = process.cpuUsage()
    fn()
    const used = process.cpuUsage(start)
    t = Math.min(t, (used.user + used.system) / 1e6)
  }
  return t
}

const ours: Record<string, number> = {}
const flops: Record<string, number> = {}
for (const [name, OC, IC] of linears) {
  const x = random(N * IC, 1), w = random(OC * IC, 2), dy = random(N * OC, 3)
  const out = new Float32Array(N * OC), dx = new Float32Array(N * IC), dw = new Float32Array(OC * IC)
  ours[`matmul_forward ${name}`] = best(() => ops.matmul_forward!(out, x, w, null, N, IC, OC))
  ours[`matmul_backward ${name}`] = best(() => ops.matmul_backward!(dx, dw, null, dy, x, w, N, IC, OC))
  flops[`matmul_forward ${name}`] = 2 * N * IC * OC
  flops[`matmul_backward ${name}`] = 4 * N * IC * OC
}
{
  const q = random(N * H * D, 4), k = random(N * KVH * D, 5), v = random(N * KVH * D, 6), dout = random(N * H * D, 7)
  const cu = new Int32Array(N / S + 1).map((_, i) => i * S)
  const out = new Float32Array(N * H * D), lse = new Float32Array(N * H)
  const dq = new Float32Array(N * H * D), dk = new Float32Array(N * KVH * D), dv = new Float32Array(N * KVH * D)
  const forward = () => ops.attention_forward!(out, lse, q, k, v, cu, N / S, N, H, KVH, D)
  ours["attention_forward"] = best(forward)
  ours["attention_forward+backward"] = best(() => {
    forward()
    ops.attention_backward!(dq, dk, dv, dout, q, k, v, out, lse, cu, N / S, N, H, KVH, D)
  })
  // causal: half of S x S per head and document, QK^T and PV; backward 2.5x forward
  flops["attention_forward"] = 2 * 2 * (S * S / 2) * D * H * (N / S)
  flops["attention_forward+backward"] = 3.5 * flops["attention_forward"]
}
{
  const x = random(N * C, 8), w = random(V * C, 9).map((a) => a * 0.05), target = new Int32Array(N).map((_, i) => (i * 7919) % V)
  const dx = new Float32Array(N * C), dw = new Float32Array(V * C)
  ours["cross_entropy forward+backward"] = best(() => ops.fused_linear_cross_entropy!(dx, dw, x, w, target, N, C, V, 1))
  flops["cross_entropy forward+backward"] = 6 * N * C * V
}
{
  const g = random(N * F, 10), u = random(N * F, 11), dy = random(N * F, 12)
  const out = new Float32Array(N * F), dg = new Float32Array(N * F), du = new Float32Array(N * F)
  ours["swiglu forward+backward"] = best(() => {
    ops.swiglu_forward!(out, g, u, N, F)
    ops.swiglu_backward!(dg, du, dy, g, u, N, F)
  })
}

const reference = JSON.parse(
  runOracle(join(here, "kernels_ref.py"), [JSON.stringify({ reps, N, C, V, H, KVH, D, F, S, linears })])
) as Record<string, number>

const pad = (s: string, n: number) => s.padEnd(n)
console.log(`${pad("op (one layer unless noted)", 34)} ${pad("ours ms", 9)} ${pad("torch ms", 9)} ratio  GFLOP/s ours / torch`)
let sumOurs = 0
let sumRef = 0
for (const [name, t] of Object.entries(ours)) {
  const r = reference[name]!
  sumOurs += t
  sumRef += r
  const f = flops[name]
  const g = f === undefined ? "" : `${(f / t / 1e9).toFixed(1)} / ${(f / r / 1e9).toFixed(1)}`
  console.log(`${pad(name, 34)} ${pad((t * 1e3).toFixed(2), 9)} ${pad((r * 1e3).toFixed(2), 9)} ${(r / t).toFixed(2)}   ${g}`)
}
console.log(`${pad("sum", 34)} ${pad((sumOurs * 1e3).toFixed(2), 9)} ${pad((sumRef * 1e3).toFixed(2), 9)} ${(sumRef / sumOurs).toFixed(2)}`)
console.log(`bench kernels: ours=${(sumOurs * 1e3).toFixed(2)} ms ref=${(sumRef * 1e3).toFixed(2)} ms ratio=${(sumRef / sumOurs).toFixed(2)}`)
