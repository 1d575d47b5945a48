/**
 * Where a stage whose inputs are ready is computed. `local`: in this process, as always. A job
 * executor (Slurm, SlurmExecutor.ts) submits it as a job that runs that one stage against the
 * shared store and commits its record there; the run then reads the record as it reads a cache hit.
 * Either way the engine computes every key here, so where a stage ran never changes a key.
 */
import type { Effect } from "effect"
import type { Key } from "../key/Key.ts"
import type { Resources } from "../Resources.ts"
import type { StageFailure } from "../StageFailure.ts"

/** One stage to compute as a job. */
export interface StageJob {
  /** The instance id in the pipeline. */
  readonly id: string
  /** The key the driver computed; the job checks it computes the same one. */
  readonly key: Key
  /** Whether the run forces this instance (the job recomputes it from scratch). */
  readonly forced: boolean
  readonly resources: Resources
  /** The run the job belongs to (its logs go beside the run record). */
  readonly runId: string
  /** The stage's log lines, progress and scalars from the job, as they arrive, and the executor's own lines. */
  readonly log: (line: string) => void
  readonly progress: (done: number, total: number) => void
  readonly scalars: (step: number, values: Readonly<Record<string, number>>) => void
}

/** How a run's stages are computed. */
export type Executor =
  | { readonly _tag: "Local" }
  | {
    readonly _tag: "Jobs"
    /** For messages: "slurm". */
    readonly name: string
    /** Runs the job to its end: succeeds once it exited 0, fails with what it said otherwise. */
    readonly run: (job: StageJob) => Effect.Effect<void, StageFailure>
  }

/** Every stage in this process. */
export const local: Executor = { _tag: "Local" }
