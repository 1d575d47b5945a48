import { beforeAll, it } from "vitest"
import { describeOracle } from "../../support/oracle.ts"
import { expectClose, expectThreadInvariant, oracle, ops, type OracleResult } from "./support.ts"

const cases = [
  { seed: 0, N: 37, F: 50 },
  { seed: 1, N: 128, F: 1024 }
]

describeOracle("swiglu against torch silu(gate) * up", () => {
  let refs: ReadonlyArray<OracleResult> = []
  beforeAll(() => {
    refs = oracle("swiglu", cases)
  })
  cases.forEach(({ N, F }, i) => {
    it(`N=${N} F=${F}`, () => {
      const ref = refs[i]!
      const run = () => {
        const out = new Float32Array(N * F)
        ops.swiglu_forward!(out, ref.f32("gate"), ref.f32("up"), N, F)
        const dgate = new Float32Array(N * F)
        const dup = new Float32Array(N * F)
        ops.swiglu_backward!(dgate, dup, ref.f32("dout"), ref.f32("gate"), ref.f32("up"), N, F)
        return [out, dgate, dup] as const
      }
      ops.set_num_threads!(2)
      const [out, dgate, dup] = run()
      expectClose("out", out, ref.f32("out"), 1e-5)
      expectClose("dgate", dgate, ref.f32("dgate"), 1e-4)
      expectClose("dup", dup, ref.f32("dup"), 1e-4)
      expectThreadInvariant(() => run())
    })
  })
})
