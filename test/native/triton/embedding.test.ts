import { test } from "vitest"
import { describeOracle } from "../../support/oracle.ts"
import { checkTriton } from "./check.ts"

describeOracle("triton embedding", () => {
  test("lookup and the atomic-free accumulated backward match torch embedding", () => {
    checkTriton("embedding")
  })
})
