/**
 * Runs a Triton kernel check (test/native/triton/<op>_check.py) in the oracle and asserts its metrics. On
 * the CPU the kernels run in Triton's interpreter in fp32 and must match PyTorch closely; with
 * SFT_TRITON_DEVICE=cuda (native/cuda/device-check.sh) the same checks run compiled on the GPU in
 * bf16, within bf16 tolerance.
 */
import { spawnSync } from "node:child_process"
import { join } from "node:path"
import { expect } from "vitest"
import { oracleEnv, requireOraclePython } from "../../support/oracle.ts"

interface Metric {
  readonly maxAbs: number
  readonly relL2: number
  readonly cosine: number
  readonly finite: boolean
}

const device = process.env.SFT_TRITON_DEVICE ?? "cpu"

/** fp32 in the interpreter: outputs 1e-5, gradients 1e-4 relative L2 (as the cpu op tests); bf16 on the device: 1e-2 and cosine 0.999. */
const tolerance = (gradient: boolean) =>
  device === "cuda" ? { relL2: gradient ? 2e-2 : 1e-2, cosine: 0.999 } : { relL2: gradient ? 1e-4 : 1e-5, cosine: 0.99999 }

/** Runs `<op>_check.py` over the cases; names starting with "d" are gradients. */
export const checkTriton = (op: string, cases: ReadonlyArray<object>): void => {
  const env = {
    ...oracleEnv(),
    PYTHONPATH: join(import.meta.dirname, "..", "..", "..", "native", "triton"),
    ...(device === "cpu" ? { TRITON_INTERPRET: "1" } : {})
  }
  const run = spawnSync(requireOraclePython(), [join(import.meta.dirname, `${op}_check.py`)], {
    input: JSON.stringify(cases),
    encoding: "utf8",
    env,
    maxBuffer: 1 << 26
  })
  expect(run.status, run.stderr).toBe(0)
  const out = JSON.parse(run.stdout) as { device: string; results: ReadonlyArray<Record<string, Metric>> }
  expect(out.device).toBe(device)
  expect(out.results.length).toBe(cases.length)
  out.results.forEach((result, i) => {
    expect(Object.keys(result).length).toBeGreaterThan(0)
    for (const [name, m] of Object.entries(result)) {
      const tol = tolerance(name.startsWith("d"))
      console.log(`${op} case ${i} ${name}: max|diff| ${m.maxAbs.toExponential(2)}, rel L2 ${m.relL2.toExponential(2)}, cos ${m.cosine.toFixed(6)}`)
      expect(m.finite, `${op} case ${i} ${name} finite`).toBe(true)
      expect(m.relL2, `${op} case ${i} ${name} rel L2`).toBeLessThanOrEqual(tol.relL2)
      expect(m.cosine, `${op} case ${i} ${name} cosine`).toBeGreaterThanOrEqual(tol.cosine)
    }
  })
}
