import { beforeAll, it } from "vitest"
import { describeOracle } from "../../support/oracle.ts"
import { expectClose, expectThreadInvariant, oracle, ops, type OracleResult } from "./support.ts"

// GQA 4:2, 6:2 and 1:1; documents of uneven lengths, including length 1 and ones longer than any tile.
const cases = [
  { seed: 0, H: 4, KVH: 2, D: 12, lengths: [10, 27, 1, 5] },
  { seed: 1, H: 6, KVH: 2, D: 64, lengths: [130, 3, 70] },
  { seed: 2, H: 1, KVH: 1, D: 8, lengths: [37] },
  { seed: 3, H: 2, KVH: 2, D: 20, lengths: [1, 1, 2, 65] }
]

describeOracle("attention against torch SDPA per document", () => {
  let refs: ReadonlyArray<OracleResult> = []
  beforeAll(() => {
    refs = oracle("attention", cases)
  })
  cases.forEach(({ H, KVH, D, lengths }, i) => {
    it(`H=${H} KVH=${KVH} D=${D} lengths=${lengths.join(",")}`, () => {
      const ref = refs[i]!
      const N = lengths.reduce((a, b) => a + b, 0)
      const ndocs = lengths.length
      const q = ref.f32("q")
      const k = ref.f32("k")
      const v = ref.f32("v")
      const cu = ref.i32("cu")
      const run = () => {
        const out = new Float32Array(N * H * D)
        const lse = new Float32Array(N * H)
        ops.attention_forward!(out, lse, q, k, v, cu, ndocs, N, H, KVH, D)
        // Outputs are WRITTEN: start from garbage to prove nothing is accumulated.
        const dq = new Float32Array(N * H * D).fill(7)
        const dk = new Float32Array(N * KVH * D).fill(7)
        const dv = new Float32Array(N * KVH * D).fill(7)
        ops.attention_backward!(dq, dk, dv, ref.f32("dout"), q, k, v, out, lse, cu, ndocs, N, H, KVH, D)
        return [out, lse, dq, dk, dv] as const
      }
      ops.set_num_threads!(2)
      const [out, lse, dq, dk, dv] = run()
      expectClose("out", out, ref.f32("out"), 1e-5)
      expectClose("lse", lse, ref.f32("lse"), 1e-5)
      expectClose("dq", dq, ref.f32("dq"), 1e-4)
      expectClose("dk", dk, ref.f32("dk"), 1e-4)
      expectClose("dv", dv, ref.f32("dv"), 1e-4)
      expectThreadInvariant(() => run())
    })
  })
})
