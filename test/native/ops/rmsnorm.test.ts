import { beforeAll, it } from "vitest"
import { describeOracle } from "../../support/oracle.ts"
import { expectClose, expectThreadInvariant, oracle, ops, type OracleResult } from "./support.ts"

const cases = [
  { seed: 0, N: 37, C: 50, eps: 1e-6 },
  { seed: 1, N: 256, C: 384, eps: 1e-5 },
  { seed: 2, N: 3, C: 7, eps: 1e-6 }
]

describeOracle("rmsnorm against transformers LlamaRMSNorm", () => {
  let refs: ReadonlyArray<OracleResult> = []
  beforeAll(() => {
    refs = oracle("rmsnorm", cases)
  })
  cases.forEach(({ N, C, eps }, i) => {
    it(`N=${N} C=${C} eps=${eps}`, () => {
      const ref = refs[i]!
      const run = () => {
        const out = new Float32Array(N * C)
        const rstd = new Float32Array(N)
        ops.rmsnorm_forward!(out, rstd, ref.f32("x"), ref.f32("w"), N, C, eps)
        const dx = new Float32Array(N * C)
        const dw = ref.f32("dw0")
        ops.rmsnorm_backward!(dx, dw, ref.f32("dout"), ref.f32("x"), ref.f32("w"), rstd, N, C, false)
        return [out, rstd, dx, dw] as const
      }
      ops.set_num_threads!(2)
      const [out, rstd, dx, dw] = run()
      expectClose("out", out, ref.f32("out"), 1e-5)
      expectClose("rstd", rstd, ref.f32("rstd"), 1e-5)
      expectClose("dinp", dx, ref.f32("dx"), 1e-4)
      expectClose("dweight (+=)", dw, ref.f32("dw"), 1e-4)
      // accumulating onto the reference's dinp doubles it
      const dx2 = ref.f32("dx")
      ops.rmsnorm_backward!(dx2, ref.f32("dw0"), ref.f32("dout"), ref.f32("x"), ref.f32("w"), rstd, N, C, true)
      expectClose("dinp (+=)", dx2, ref.f32("dx").map((v) => 2 * v), 1e-4)
      expectThreadInvariant(() => run())
    })
  })
})
