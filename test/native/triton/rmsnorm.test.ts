import { test } from "vitest"
import { describeOracle } from "../../support/oracle.ts"
import { checkTriton } from "./check.ts"

describeOracle("triton rmsnorm", () => {
  test("forward and backward match LlamaRMSNorm on normal and odd shapes", () => {
    checkTriton("rmsnorm")
  })
})
