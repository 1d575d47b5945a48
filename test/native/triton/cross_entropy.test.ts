import { test } from "vitest"
import { describeOracle } from "../../support/oracle.ts"
import { checkTriton } from "./check.ts"

describeOracle("triton cross_entropy", () => {
  test("the chunked fused linear cross-entropy matches cross_entropy over the full logits", () => {
    checkTriton("cross_entropy")
  })
})
