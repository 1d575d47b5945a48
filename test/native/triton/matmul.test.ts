import { test } from "vitest"
import { describeOracle } from "../../support/oracle.ts"
import { checkTriton } from "./check.ts"

describeOracle("triton matmul", () => {
  test("the tiled gemm gives nn.Linear's output and gradients on normal and odd shapes", () => {
    checkTriton("matmul")
  })
})
