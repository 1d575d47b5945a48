/**
 * `pipeline gc [--keep N] [--dry-run]`: keeps the newest N runs (all when N is absent) and every
 * run still in progress, marks every object and stage key they reference (and the outputs of every
 * stage record so kept), deletes the other run records (with their telemetry folders) and stage
 * records, and sweeps unmarked objects, checkpoints and stale tmp/ entries.
 *
 * Safe while runs are in progress: it runs under the store's gc lock, and whatever a live run has
 * written or checked so far is pinned (see store/RootsFile.ts), so nothing a run needs goes.
 */
import { Effect, Exit, Option, Schema } from "effect"
import { objectsOf } from "../../runner/Artifacts.ts"
import type { ArtifactRef, RunRecord } from "../../runner/Records.ts"
import { StageRecord } from "../../runner/Records.ts"
import type { Digest } from "../../store/Digest.ts"
import { type Roots, Store } from "../../store/Store.ts"
import { bytes } from "../Format.ts"
import { readRun, runIds } from "../RunRef.ts"

const decodeStageRecord = Schema.decodeUnknownExit(StageRecord)

export const gc = (keep: number | undefined, dryRun: boolean) =>
  Effect.gen(function*() {
    const store = yield* Store
    let summary = ""
    const plan = (pinned: Roots) =>
      Effect.gen(function*() {
        const ids = yield* runIds
        const runs: Array<RunRecord> = []
        for (const id of ids) {
          const run = yield* readRun(id).pipe(
            Effect.tapError((error) => Effect.sync(() => process.stderr.write(`warning: run ${id}: ${error.message}\n`))),
            Effect.option
          )
          if (Option.isSome(run)) runs.push(run.value)
        }
        const newest = keep === undefined ? runs : runs.slice(Math.max(0, runs.length - keep))
        const kept = runs.filter((run) => newest.includes(run) || run.status === "running")
        const dropped = runs.filter((run) => !kept.includes(run))
        const live = new Set<Digest>()
        const liveKeys = new Set<string>(pinned.keys)
        const mark = (ref: ArtifactRef | null | undefined) => {
          if (ref) for (const object of objectsOf(ref)) live.add(object.digest)
        }
        for (const run of kept) {
          for (const ext of run.external) mark(ext.artifact)
          for (const stage of run.stages) {
            if (stage.key !== undefined) liveKeys.add(stage.key)
            for (const ref of Object.values(stage.outputs ?? {})) mark(ref)
            for (const ref of Object.values(stage.inputs ?? {})) mark(ref)
          }
        }
        // A kept key's record may be newer than the run that names it (another run committed it).
        for (const key of liveKeys) {
          const document = yield* store.getDocument("stages", key).pipe(Effect.catchTag("CorruptDocument", () => Effect.succeed(Option.none())))
          if (Option.isNone(document)) continue
          const record = decodeStageRecord(document.value)
          if (Exit.isSuccess(record)) for (const ref of Object.values(record.value.outputs)) mark(ref)
        }
        const deadRecords = (yield* store.listDocuments("stages")).map((doc) => doc.id).filter((key) => !liveKeys.has(key))
        if (!dryRun) {
          for (const run of dropped) yield* store.deleteDocument("runs", run.id)
          for (const key of deadRecords) yield* store.deleteDocument("stages", key)
        }
        const running = kept.filter((run) => run.status === "running").length
        summary = `${dropped.length} runs, ${deadRecords.length} stage records; kept ${kept.length} runs` +
          `${running > 0 ? ` (${running} in progress)` : ""}, ${live.size} objects`
        return { objects: live, keys: liveKeys }
      })
    const swept = yield* store.collect(plan, { dryRun })
    const verb = dryRun ? "would remove" : "removed"
    process.stdout.write(`gc: ${verb} ${swept.objects} objects (${bytes(swept.bytes)}), ${summary}\n`)
  })
