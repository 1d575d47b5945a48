import { beforeAll, expect, it } from "vitest"
import { describeOracle } from "../../support/oracle.ts"
import { expectClose, expectThreadInvariant, oracle, ops, type OracleResult } from "./support.ts"

// V smaller than N forces repeated ids, whose gradients must add up.
const cases = [
  { seed: 0, N: 37, V: 11, C: 50 },
  { seed: 1, N: 300, V: 1000, C: 64 }
]

describeOracle("embedding against torch F.embedding", () => {
  let refs: ReadonlyArray<OracleResult> = []
  beforeAll(() => {
    refs = oracle("embedding", cases)
  })
  cases.forEach(({ N, V, C }, i) => {
    it(`N=${N} V=${V} C=${C}`, () => {
      const ref = refs[i]!
      const run = () => {
        const out = new Float32Array(N * C)
        ops.embedding_forward!(out, ref.i32("ids"), ref.f32("wte"), N, C)
        const dwte = ref.f32("dwte0")
        ops.embedding_backward!(dwte, ref.f32("dout"), ref.i32("ids"), N, C)
        return [out, dwte] as const
      }
      ops.set_num_threads!(2)
      const [out, dwte] = run()
      expect(out).toEqual(ref.f32("out"))
      expectClose("dwte (+=)", dwte, ref.f32("dwte"), 1e-5)
      expectThreadInvariant(() => run())
    })
  })

  it("refuses an id outside the table", () => {
    const ids = new Int32Array([0, 5])
    expect(() => ops.embedding_forward!(new Float32Array(8), ids, new Float32Array(20), 2, 4)).toThrow(/ids must be in \[0, V\)/)
  })
})
