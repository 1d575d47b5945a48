import { test } from "vitest"
import { describeOracle } from "../../support/oracle.ts"
import { checkTriton } from "./check.ts"

describeOracle("triton adamw", () => {
  test("five AdamW steps on fp32 master weights match torch.optim.AdamW; sum of squares, scaling and adding match torch", () => {
    checkTriton("adamw")
  })
})
