import { test } from "vitest"
import { describeOracle } from "../../support/oracle.ts"
import { checkTriton } from "./check.ts"

describeOracle("triton swiglu", () => {
  test("forward and backward match silu(gate) * up on normal and odd shapes", () => {
    checkTriton("swiglu", [
      { seed: 0, N: 37, F: 123 },
      { seed: 1, N: 16, F: 256 },
      { seed: 2, N: 1, F: 5 }
    ])
  })
})
