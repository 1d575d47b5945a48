import { test } from "vitest"
import { describeOracle } from "../../support/oracle.ts"
import { checkTriton } from "./check.ts"

describeOracle("triton rope", () => {
  test("forward (also in place) and backward match transformers' rotate_half RoPE", () => {
    checkTriton("rope", [
      { seed: 0, N: 23, NH: 3, D: 10, scaling: 1 },
      { seed: 1, N: 16, NH: 4, D: 64, scaling: 1.2 }
    ])
  })
})
