import { test } from "vitest"
import { describeOracle } from "../../support/oracle.ts"
import { checkTriton } from "./check.ts"

describeOracle("triton embedding", () => {
  test("lookup and the atomic-free accumulated backward match torch embedding", () => {
    checkTriton("embedding", [
      { seed: 0, N: 41, V: 50, C: 37, distinct: 7 },
      { seed: 1, N: 64, V: 300, C: 160, distinct: 300 }
    ])
  })
})
