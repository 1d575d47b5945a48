import { test } from "vitest"
import { describeOracle } from "../../support/oracle.ts"
import { checkTriton } from "./check.ts"

describeOracle("triton cross_entropy", () => {
  test("the chunked fused linear cross-entropy matches cross_entropy over the full logits", () => {
    checkTriton("cross_entropy", [
      { seed: 0, N: 37, C: 24, V: 1500, gradScale: 1 },
      { seed: 1, N: 300, C: 16, V: 97, gradScale: 0.01 }
    ])
  })
})
