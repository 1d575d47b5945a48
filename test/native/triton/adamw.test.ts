import { test } from "vitest"
import { describeOracle } from "../../support/oracle.ts"
import { checkTriton } from "./check.ts"

describeOracle("triton adamw", () => {
  test("five AdamW steps on fp32 master weights match torch.optim.AdamW; sum of squares, scaling and adding match torch", () => {
    checkTriton("adamw", [
      { seed: 0, n: 3001, steps: 5, lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.1, clip: 1 },
      { seed: 1, n: 17, steps: 3, lr: 3e-2, beta1: 0.8, beta2: 0.95, eps: 1e-6, weightDecay: 0, clip: 0.25 }
    ])
  })
})
