/**
 * A real one-node Slurm cluster for tests (scripts/slurm.sh), started on free ports once per test
 * file and stopped by PID afterwards (munged too, when it was started for it). Where Slurm is not
 * installed, or the tests are not root (slurmd must run as root), they are skipped with the reason
 * printed, and fail under CI (see optional.ts); `.ci/run` installs it.
 */
import { join } from "node:path"
import { missingPrograms, startDaemons } from "./daemons.ts"
import { requiredInCi } from "./optional.ts"

const missing = missingPrograms(["slurmctld", "slurmd", "sbatch", "scontrol", "scancel", "sinfo", "munged", "munge", "runuser"])

/** Why Slurm cannot be started here, if it cannot. */
export const slurmMissing = missing.length > 0
  ? `Slurm not installed (${missing.join(", ")} missing; apt-get install --no-install-recommends slurm-wlm)`
  : process.getuid?.() !== 0
  ? "the one-node Slurm cluster needs root (slurmd)"
  : undefined

/** `describe` that runs only where Slurm can be started. */
export const describeSlurm = requiredInCi(slurmMissing === undefined, slurmMissing ?? "")

/** A running cluster: `env` points Slurm's commands (and child processes) at it. */
export interface Slurm {
  readonly env: Readonly<Record<string, string>>
  readonly stop: () => Promise<void>
}

/** Starts slurmctld and slurmd (about 1 s) and sets SLURM_CONF in this process. */
export const startSlurm = async (): Promise<Slurm> => {
  // The script's arguments after the directory: CTLD_PORT SLURMD_PORT.
  const { dir, stop } = await startDaemons("slurm.sh", 2, ["slurmd", "slurmctld", "munged"])
  const env = { SLURM_CONF: join(dir, "slurm.conf") }
  Object.assign(process.env, env)
  return { env, stop }
}
