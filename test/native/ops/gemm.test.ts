import { beforeAll, it } from "vitest"
import { describeOracle } from "../../support/oracle.ts"
import { expectClose, expectThreadInvariant, oracle, ops, type OracleResult } from "./support.ts"

// Tiny, odd (no multiple of any register or cache block) and several blocks deep in K (KC=384), M (MC=72)
// and N (NC=3072).
const shapes: ReadonlyArray<readonly [number, number, number]> = [
  [1, 1, 1],
  [5, 3, 7],
  [37, 50, 13],
  [129, 257, 300],
  [300, 517, 129],
  [64, 1040, 520],
  [7, 3100, 9]
]
const cases = shapes.flatMap(([M, N, K], s) =>
  [false, true].flatMap((transA) =>
    [false, true].flatMap((transB) =>
      [false, true].map((accumulate) => ({ seed: s, M, N, K, transA, transB, accumulate }))
    )
  )
)

describeOracle("sgemm against torch.matmul", () => {
  let refs: ReadonlyArray<OracleResult> = []
  beforeAll(() => {
    refs = oracle("gemm", cases)
  })
  cases.forEach(({ M, N, K, transA, transB, accumulate }, i) => {
    it(`${M}x${N}x${K} transA=${transA} transB=${transB} accumulate=${accumulate}`, () => {
      const ref = refs[i]!
      const a = ref.f32("a")
      const b = ref.f32("b")
      const [rsa, csa] = transA ? [1, M] : [K, 1]
      const [rsb, csb] = transB ? [1, K] : [N, 1]
      const run = (name: string) => {
        const c = ref.f32("c0")
        ops[name]!(M, N, K, a, rsa, csa, b, rsb, csb, c, N, accumulate)
        return c
      }
      ops.set_num_threads!(2)
      expectClose("sgemm", run("sgemm"), ref.f32("expected"), 1e-5)
      expectClose("sgemm_naive", run("sgemm_naive"), ref.f32("expected"), 1e-5)
      expectThreadInvariant(() => [run("sgemm")])
    })
  })
})
