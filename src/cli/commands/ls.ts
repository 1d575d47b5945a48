/** `pipeline ls`: runs in the store, newest first. */
import { Effect } from "effect"
import { duration, table } from "../Format.ts"
import { readRun, runIds } from "../RunRef.ts"

export const ls = (json: boolean) =>
  Effect.gen(function*() {
    const ids = (yield* runIds).reverse()
    const runs = yield* Effect.forEach(ids, (id) => readRun(id).pipe(Effect.option))
    const rows = runs.flatMap((run) => (run._tag === "Some" ? [run.value] : [])).map((run) => ({
      id: run.id,
      pipeline: run.pipeline.name,
      status: run.status,
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
        row.status,
        String(row.stages),
        String(row.hits),
        String(row.ran),
        duration(row.durationMs ?? undefined),
        row.startedAt
      ])
    ]) + "\n")
  })
