/**
 * Runs a Triton kernel check (test/native/triton/<op>_check.py) in the oracle and asserts its verdicts.
 * On the CPU the kernels run in Triton's interpreter in fp32 and must match PyTorch closely; with
 * SFT_TRITON_DEVICE=cuda the same checks run compiled on the GPU in bf16, within bf16 tolerance
 * (native/cuda/device-check.sh runs the check scripts directly there).
 */
import { spawnSync } from "node:child_process"
import { join } from "node:path"
import { expect } from "vitest"
import { oracleEnv, requireOraclePython } from "../../support/oracle.ts"

interface Metric {
  readonly maxAbs: number
  readonly relL2: number
  readonly cosine: number
  readonly tolerance: number
  readonly ok: boolean
}

const device = process.env.SFT_TRITON_DEVICE ?? "cpu"

/** Runs `<op>_check.py` over its cases; the tolerances (per device, outputs and gradients) are check_io.py's. */
export const checkTriton = (op: string): void => {
  const env = {
    ...oracleEnv(),
    PYTHONPATH: join(import.meta.dirname, "..", "..", "..", "native", "triton"),
    ...(device === "cpu" ? { TRITON_INTERPRET: "1" } : {})
  }
  const run = spawnSync(requireOraclePython(), [join(import.meta.dirname, `${op}_check.py`)], {
    encoding: "utf8",
    env,
    maxBuffer: 1 << 26
  })
  expect(run.stdout, run.stderr).not.toBe("")
  const out = JSON.parse(run.stdout) as { device: string; results: ReadonlyArray<Record<string, Metric>> }
  expect(out.device).toBe(device)
  expect(out.results.length).toBeGreaterThan(0)
  out.results.forEach((result, i) => {
    expect(Object.keys(result).length).toBeGreaterThan(0)
    for (const [name, m] of Object.entries(result)) {
      console.log(`${op} case ${i} ${name}: max|diff| ${m.maxAbs.toExponential(2)}, rel L2 ${m.relL2.toExponential(2)} (≤ ${m.tolerance}), cos ${m.cosine.toFixed(6)}`)
      expect(m.ok, `${op} case ${i} ${name}`).toBe(true)
    }
  })
  expect(run.status, run.stderr).toBe(0)
}
