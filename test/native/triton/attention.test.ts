import { test } from "vitest"
import { describeOracle } from "../../support/oracle.ts"
import { checkTriton } from "./check.ts"

describeOracle("triton attention", () => {
  test("packed causal GQA attention matches per-document sdpa; the backward gives the same bits twice", () => {
    checkTriton("attention", [
      { seed: 0, lengths: [5, 33, 1, 18], H: 4, KVH: 2, D: 12 },
      { seed: 1, lengths: [40], H: 2, KVH: 2, D: 16 },
      { seed: 2, lengths: [17, 16], H: 6, KVH: 1, D: 8 }
    ])
  })
})
