import { beforeAll, expect, it } from "vitest"
import { describeOracle } from "../../support/oracle.ts"
import { expectClose, expectThreadInvariant, oracle, ops, type OracleResult } from "./support.ts"

// Trained rows span several chunks: 512 rows at V=1000 (N=1300), 64 rows at V=100000 (N=150);
// ignored=1 has no trained token at all. Half the targets are the argmax of their logits, so token
// accuracy is checked on hits as well as misses.
const cases = [
  { seed: 0, N: 37, C: 50, V: 101, ignored: 0.3, scale: 1 },
  { seed: 1, N: 1300, C: 64, V: 1000, ignored: 0.2, scale: 1 / 1040 },
  { seed: 4, N: 150, C: 16, V: 100_000, ignored: 0.1, scale: 1 },
  { seed: 2, N: 20, C: 12, V: 30, ignored: 1, scale: 1 },
  { seed: 3, N: 130, C: 384, V: 2048, ignored: 0, scale: 0.5 }
]

describeOracle("fused linear cross-entropy against torch F.linear + F.cross_entropy", () => {
  let refs: ReadonlyArray<OracleResult> = []
  beforeAll(() => {
    refs = oracle("cross_entropy", cases)
  })
  cases.forEach(({ N, C, V, ignored, scale }, i) => {
    it(`N=${N} C=${C} V=${V} ignored=${ignored} scale=${scale}`, () => {
      const ref = refs[i]!
      const x = ref.f32("x")
      const w = ref.f32("w")
      const target = ref.i32("target")
      const run = () => {
        const dx = new Float32Array(N * C).fill(7)
        const dw = ref.f32("dw0")
        const loss = ops.fused_linear_cross_entropy!(dx, dw, x, w, target, N, C, V, scale) as number
        return [loss, dx, dw] as const
      }
      ops.set_num_threads!(2)
      const [loss, dx, dw] = run()
      const refLoss = ref.num("loss")
      const evaluated = ops.linear_cross_entropy_loss!(x, w, target, N, C, V) as { lossSum: number; correct: number }
      console.log(`loss ${loss} vs ${refLoss}, ${evaluated.correct} correct vs ${ref.num("correct")}`)
      expect(Math.abs(loss - refLoss)).toBeLessThanOrEqual(1e-5 * Math.abs(refLoss))
      expect(evaluated.lossSum).toBe(loss)
      expect(evaluated.correct).toBe(ref.num("correct"))
      expectClose("dinp", dx, ref.f32("dx"), 1e-4)
      expectClose("dweight (+=)", dw, ref.f32("dw"), 1e-4)
      expectThreadInvariant(() => run())
    })
  })

  it("gives NaN for a target outside the vocabulary", () => {
    const loss = ops.linear_cross_entropy_loss!(new Float32Array(4), new Float32Array(6), new Int32Array([1, 3]), 2, 2, 3) as { lossSum: number }
    expect(loss.lossSum).toBeNaN()
  })
})
