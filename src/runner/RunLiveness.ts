/**
 * Whether a run is still in progress. A run record says "running" from its start to its end; a
 * run whose process was killed (SIGKILL, power loss) never writes its end, so a "running" record
 * whose owner is gone is read as "interrupted", and so is each stage it was running then.
 */
import * as Owners from "../store/Owner.ts"
import type { RunRecord } from "./Records.ts"

/** Whether the run's process is certainly gone (records without an owner cannot tell). */
const ownerGone = (run: RunRecord): boolean => run.owner !== undefined && Owners.isDead(run.owner)

/** The record as it stands now: "interrupted" rather than "running" once its owner is gone. */
export const asSeen = (run: RunRecord): RunRecord =>
  run.status === "running" && ownerGone(run)
    ? {
      ...run,
      status: "interrupted",
      stages: run.stages.map((stage) => (stage.status === "running" ? { ...stage, status: "interrupted" } : stage))
    }
    : run

/** The stages an interrupted run was running when it stopped (the last it reached). */
export const interruptedAt = (run: RunRecord): ReadonlyArray<string> =>
  run.stages.filter((stage) => stage.status === "interrupted").map((stage) => stage.id)
