import { beforeAll, it } from "vitest"
import { describeOracle } from "../../support/oracle.ts"
import { expectClose, expectThreadInvariant, oracle, ops, type OracleResult } from "./support.ts"

// Packed documents: positions restart at each document; a far position checks the fp32 angle rounding.
const positions = [...Array.from({ length: 10 }, (_, i) => i), ...Array.from({ length: 27 }, (_, i) => i), 4000, 8191]
const cases = [
  { seed: 0, NH: 4, D: 12, rope: "default", positions },
  { seed: 1, NH: 2, D: 64, rope: "llama3", positions },
  { seed: 2, NH: 3, D: 16, rope: "yarn", positions }
]

describeOracle("rope against transformers apply_rotary_pos_emb", () => {
  let refs: ReadonlyArray<OracleResult> = []
  beforeAll(() => {
    refs = oracle("rope", cases)
  })
  cases.forEach(({ NH, D, rope }, i) => {
    it(`${rope} NH=${NH} D=${D}`, () => {
      const ref = refs[i]!
      const N = positions.length
      const args = [ref.i32("pos"), ref.f32("inv_freq"), ref.num("scaling"), N, NH, D] as const
      const run = () => {
        const out = new Float32Array(N * NH * D)
        ops.rope_forward!(out, ref.f32("x"), ...args)
        const dx = new Float32Array(N * NH * D)
        ops.rope_backward!(dx, ref.f32("dout"), ...args)
        return [out, dx] as const
      }
      ops.set_num_threads!(2)
      const [out, dx] = run()
      expectClose("out", out, ref.f32("out"), 1e-5)
      expectClose("dinp", dx, ref.f32("dx"), 1e-4)
      // In place, as the model uses it.
      const inPlace = ref.f32("x")
      ops.rope_forward!(inPlace, inPlace, ...args)
      expectClose("out in place", inPlace, ref.f32("out"), 1e-5)
      expectThreadInvariant(() => run())
    })
  })
})
