/**
 * The oracle: a Python env with PyTorch, transformers, tokenizers, pyarrow and safetensors,
 * made by `scripts/oracle.sh`. Parity tests run reference code there and compare.
 *
 * On a user's machine without it, those tests are skipped with a visible reason. In CI
 * (`CI=true`) the oracle is required: a missing oracle fails instead of skipping silently.
 */
import { spawnSync } from "node:child_process"
import { existsSync } from "node:fs"
import { homedir } from "node:os"
import { join } from "node:path"
import { requiredInCi } from "./optional.ts"

const root = process.env.SFT_ORACLE ?? join(homedir(), ".cache", "sft-oracle")
const python = join(root, "bin", "python")

/** Absolute path of the oracle's Python, or undefined when the oracle is not installed. */
export const oraclePython: string | undefined = existsSync(python) ? python : undefined

const missingReason = `oracle not found at ${root} (run scripts/oracle.sh or set SFT_ORACLE)`

/** `describe` that runs only when the oracle exists (see {@link requiredInCi}). */
export const describeOracle = requiredInCi(oraclePython !== undefined, missingReason)

/** The oracle's Python; fails naming where it was looked for when it is not installed. */
export const requireOraclePython = (): string => {
  if (oraclePython === undefined) throw new Error(missingReason)
  return oraclePython
}

/**
 * The oracle's environment: one torch thread unless told otherwise, and no LD_PRELOAD (a
 * sanitizer preloaded to test our addon must not be loaded into PyTorch).
 */
export const oracleEnv = (): NodeJS.ProcessEnv => {
  const env: NodeJS.ProcessEnv = { ...process.env, OMP_NUM_THREADS: process.env.OMP_NUM_THREADS ?? "1" }
  delete env.LD_PRELOAD
  return env
}

/**
 * Runs a Python script in the oracle with `input` on stdin and returns its stdout.
 * Fails loudly with the script's stderr on a non-zero exit.
 */
export const runOracle = (script: string, args: ReadonlyArray<string> = [], input?: string): string => {
  const result = spawnSync(requireOraclePython(), [script, ...args], {
    input,
    encoding: "utf8",
    maxBuffer: 1 << 30,
    env: oracleEnv()
  })
  if (result.status !== 0) {
    throw new Error(`oracle script ${script} failed (${result.status}):\n${result.stderr}`)
  }
  return result.stdout
}
