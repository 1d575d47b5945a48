import { beforeAll, it } from "vitest"
import { describeOracle } from "../../support/oracle.ts"
import { expectClose, expectThreadInvariant, oracle, ops, type OracleResult } from "./support.ts"

const shapes: ReadonlyArray<readonly [number, number, number]> = [
  [37, 50, 13],
  [64, 384, 640],
  [200, 96, 513]
]
const cases = shapes.flatMap(([N, C, OC], seed) => [false, true].map((bias) => ({ seed, N, C, OC, bias })))

describeOracle("matmul against torch F.linear", () => {
  let refs: ReadonlyArray<OracleResult> = []
  beforeAll(() => {
    refs = oracle("matmul", cases)
  })
  cases.forEach(({ N, C, OC, bias }, i) => {
    it(`N=${N} C=${C} OC=${OC} bias=${bias}`, () => {
      const ref = refs[i]!
      const x = ref.f32("x")
      const w = ref.f32("w")
      const b = bias ? ref.f32("b") : null
      const run = (withDinp: boolean) => {
        const out = new Float32Array(N * OC)
        ops.matmul_forward!(out, x, w, b, N, C, OC)
        const dx = new Float32Array(N * C)
        const dw = ref.f32("dw0")
        const db = ref.f32("db0")
        ops.matmul_backward!(withDinp ? dx : null, dw, bias ? db : null, ref.f32("dout"), x, w, N, C, OC, false)
        return [out, dx, dw, db] as const
      }
      ops.set_num_threads!(2)
      const [out, dx, dw, db] = run(true)
      expectClose("out", out, ref.f32("out"), 1e-5)
      expectClose("dinp", dx, ref.f32("dx"), 1e-4)
      expectClose("dweight (+=)", dw, ref.f32("dw"), 1e-4)
      if (bias) expectClose("dbias (+=)", db, ref.f32("db"), 1e-4)
      expectClose("dweight without dinp", run(false)[2], ref.f32("dw"), 1e-4)
      // accumulating onto the reference's dinp doubles it
      const dx2 = ref.f32("dx")
      ops.matmul_backward!(dx2, ref.f32("dw0"), null, ref.f32("dout"), x, w, N, C, OC, true)
      expectClose("dinp (+=)", dx2, ref.f32("dx").map((v) => 2 * v), 1e-4)
      expectThreadInvariant(() => run(true))
    })
  })
})
