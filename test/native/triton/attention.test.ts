import { test } from "vitest"
import { describeOracle } from "../../support/oracle.ts"
import { checkTriton } from "./check.ts"

describeOracle("triton attention", () => {
  test("packed causal GQA attention matches per-document sdpa; the backward gives the same bits twice", () => {
    checkTriton("attention")
  })
})
