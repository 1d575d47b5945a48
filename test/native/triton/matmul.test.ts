import { test } from "vitest"
import { describeOracle } from "../../support/oracle.ts"
import { checkTriton } from "./check.ts"

describeOracle("triton matmul", () => {
  test("the tiled gemm gives nn.Linear's output and gradients on normal and odd shapes", () => {
    checkTriton("matmul", [
      { seed: 0, N: 37, C: 50, OC: 70, bias: true, accumulate: true },
      { seed: 1, N: 64, C: 96, OC: 128, bias: false, accumulate: false },
      { seed: 2, N: 1, C: 5, OC: 3, bias: true, accumulate: false }
    ])
  })
})
