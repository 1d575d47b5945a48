import { test } from "vitest"
import { describeOracle } from "../../support/oracle.ts"
import { checkTriton } from "./check.ts"

describeOracle("triton swiglu", () => {
  test("forward and backward match silu(gate) * up on normal and odd shapes", () => {
    checkTriton("swiglu")
  })
})
