/**
 * `pipeline gc [--keep N] [--dry-run]`: keeps the newest N runs (all when N is absent), marks every
 * object and stage key they reference, deletes the other run and stage records, and sweeps
 * unmarked objects, checkpoints and stale tmp/ entries. Do not run it while a run is in progress:
 * that run's new objects are not referenced by any record yet.
 */
import { Effect, Option } from "effect"
import { objectsOf } from "../../runner/Artifacts.ts"
import type { ArtifactRef } from "../../runner/Records.ts"
import type { Digest } from "../../store/Digest.ts"
import { Store } from "../../store/Store.ts"
import { bytes } from "../Format.ts"
import { readRun, runIds } from "../RunRef.ts"

export const gc = (keep: number | undefined, dryRun: boolean) =>
  Effect.gen(function*() {
    const store = yield* Store
    const ids = yield* runIds
    const kept = keep === undefined ? ids : ids.slice(Math.max(0, ids.length - keep))
    const dropped = ids.filter((id) => !kept.includes(id))
    const live = new Set<Digest>()
    const liveKeys = new Set<string>()
    const mark = (ref: ArtifactRef | null | undefined) => {
      if (ref) for (const object of objectsOf(ref)) live.add(object.digest)
    }
    for (const id of kept) {
      const run = yield* readRun(id).pipe(Effect.option)
      if (Option.isNone(run)) continue
      for (const ext of run.value.external) mark(ext.artifact)
      for (const stage of run.value.stages) {
        if (stage.key !== undefined) liveKeys.add(stage.key)
        for (const ref of Object.values(stage.outputs ?? {})) mark(ref)
        for (const ref of Object.values(stage.inputs ?? {})) mark(ref)
      }
    }
    const deadRecords = (yield* store.listDocuments("stages")).map((doc) => doc.id).filter((key) => !liveKeys.has(key))
    if (!dryRun) {
      for (const id of dropped) yield* store.deleteDocument("runs", id)
      for (const key of deadRecords) yield* store.deleteDocument("stages", key)
    }
    const swept = yield* store.sweep(live, liveKeys, { dryRun })
    const verb = dryRun ? "would remove" : "removed"
    process.stdout.write(
      `gc: ${verb} ${swept.objects} objects (${bytes(swept.bytes)}), ${dropped.length} runs, ${deadRecords.length} stage records; kept ${kept.length} runs, ${live.size} objects\n`
    )
  })
