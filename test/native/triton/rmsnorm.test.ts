import { test } from "vitest"
import { describeOracle } from "../../support/oracle.ts"
import { checkTriton } from "./check.ts"

describeOracle("triton rmsnorm", () => {
  test("forward and backward match LlamaRMSNorm on normal and odd shapes", () => {
    checkTriton("rmsnorm", [
      { seed: 0, N: 37, C: 50, eps: 1e-6, accumulate: false },
      { seed: 1, N: 40, C: 128, eps: 1e-5, accumulate: true },
      { seed: 2, N: 1, C: 7, eps: 1e-6, accumulate: true }
    ])
  })
})
