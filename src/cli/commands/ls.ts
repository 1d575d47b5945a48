/**
 * `pipeline ls`: runs in the store, newest first. A run whose process is gone shows as interrupted,
 * with the stage it was running; an unreadable record is named on stderr (and quarantined).
 */
import { Effect } from "effect"
import { interruptedAt } from "../../runner/RunLiveness.ts"
import { duration, table } from "../Format.ts"
import { readRun, runIds } from "../RunRef.ts"

export const ls = (json: boolean) =>
  Effect.gen(function*() {
    const ids = (yield* runIds).reverse()
    const runs = yield* Effect.forEach(ids, (id) =>
      readRun(id).pipe(
        Effect.tapError((error) => Effect.sync(() => process.stderr.write(`warning: run ${id}: ${error.message}\n`))),
        Effect.option
      ))
    const rows = runs.flatMap((run) => (run._tag === "Some" ? [run.value] : [])).map((run) => ({
      id: run.id,
      pipeline: run.pipeline.name,
      status: run.status,
      ...(run.status === "interrupted" ? { interruptedAt: interruptedAt(run) } : {}),
      startedAt: run.startedAt,
      durationMs: run.durationMs ?? null,
      stages: run.stages.length,
      hits: run.stages.filter((stage) => stage.status === "hit").length,
      ran: run.stages.filter((stage) => stage.status === "ran").length
    }))
    if (json) {
      process.stdout.write(JSON.stringify(rows, null, 2) + "\n")
      return
    }
    if (rows.length === 0) {
      process.stdout.write("no runs\n")
      return
    }
    process.stdout.write(table([
      ["RUN", "PIPELINE", "STATUS", "STAGES", "CACHED", "RAN", "DURATION", "STARTED"],
      ...rows.map((row) => [
        row.id,
        row.pipeline,
        row.interruptedAt === undefined || row.interruptedAt.length === 0 ? row.status : `${row.status} at ${row.interruptedAt.join(", ")}`,
        String(row.stages),
        String(row.hits),
        String(row.ran),
        duration(row.durationMs ?? undefined),
        row.startedAt
      ])
    ]) + "\n")
  })
