import { beforeAll, expect, it } from "vitest"
import { describeOracle } from "../../support/oracle.ts"
import { expectClose, expectThreadInvariant, oracle, ops, type OracleResult } from "./support.ts"

const cases = [
  { seed: 0, n: 1000, steps: 10, lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, wd: 0.01 },
  { seed: 1, n: 37, steps: 5, lr: 3e-2, beta1: 0.8, beta2: 0.95, eps: 1e-6, wd: 0 },
  { seed: 2, n: 10_007, steps: 3, lr: 1e-4, beta1: 0.9, beta2: 0.999, eps: 1e-8, wd: 0.1 }
]

describeOracle("adamw against torch.optim.AdamW", () => {
  let refs: ReadonlyArray<OracleResult> = []
  beforeAll(() => {
    refs = oracle("adamw", cases)
  })
  cases.forEach(({ n, steps, lr, beta1, beta2, eps, wd }, i) => {
    it(`n=${n} steps=${steps} lr=${lr} wd=${wd}`, () => {
      const ref = refs[i]!
      const grads = ref.f32("grads")
      // grad_scale multiplies each gradient as it is read: doubled gradients scaled by 0.5 are the same bits
      const run = (scale = 1) => {
        const p = ref.f32("p0")
        const m = new Float32Array(n)
        const v = new Float32Array(n)
        for (let s = 0; s < steps; s++) {
          const g = grads.slice(s * n, (s + 1) * n).map((x) => x / scale)
          ops.adamw_update!(p, m, v, g, n, lr, beta1, beta2, eps, wd, scale, s + 1)
        }
        return [p, m, v] as const
      }
      ops.set_num_threads!(2)
      const [p, m, v] = run()
      run(0.5).forEach((x, j) => expect(Buffer.from(x.buffer).equals(Buffer.from([p, m, v][j]!.buffer)), `grad_scale 0.5, output ${j}`).toBe(true))
      expectClose("param", p, ref.f32("p"), 1e-5)
      expectClose("exp_avg", m, ref.f32("m"), 1e-5)
      expectClose("exp_avg_sq", v, ref.f32("v"), 1e-5)
      expectThreadInvariant(() => run())
    })
  })

  cases.forEach(({ n }, i) => {
    it(`sum_squares n=${n}`, () => {
      const g = refs[i]!.f32("grads").subarray(0, n)
      const ours = ops.sum_squares!(g, n) as number
      const ref = refs[i]!.num("sumsq")
      expect(Math.abs(ours - ref)).toBeLessThanOrEqual(1e-12 * ref)
      expectThreadInvariant(() => [ops.sum_squares!(g, n) as number])
    })
  })
})
