import { test } from "vitest"
import { describeOracle } from "../../support/oracle.ts"
import { checkTriton } from "./check.ts"

describeOracle("triton rope", () => {
  test("forward (also in place) and backward match transformers' rotate_half RoPE", () => {
    checkTriton("rope")
  })
})
