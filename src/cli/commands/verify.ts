/**
 * `pipeline verify`: re-hashes every object, checks the seal of every document and the digests of
 * every checkpoint, and decodes every stage and run record; whatever is damaged is quarantined, so
 * the next run recomputes what needs it. Runs heal by themselves: this is an audit, never a
 * prerequisite.
 */
import { Effect, Exit, Option, Schema } from "effect"
import { RunRecord, StageRecord } from "../../runner/Records.ts"
import { type Damage, type DocumentKind, Store } from "../../store/Store.ts"
import { bytes } from "../Format.ts"

const decoders: Record<DocumentKind, (doc: unknown) => Exit.Exit<unknown, unknown>> = {
  stages: Schema.decodeUnknownExit(StageRecord),
  runs: Schema.decodeUnknownExit(RunRecord)
}

const label: Record<Damage["kind"], string> = { object: "object", stages: "stage record", runs: "run record", checkpoint: "checkpoint" }

export const verify = Effect.gen(function*() {
  const store = yield* Store
  const result = yield* store.verifyAll
  const damaged = [...result.damaged]
  for (const kind of ["stages", "runs"] as const) {
    for (const { id } of yield* store.listDocuments(kind)) {
      const document = yield* store.getDocument(kind, id).pipe(Effect.catchTag("CorruptDocument", () => Effect.succeed(Option.none())))
      if (Option.isNone(document) || Exit.isSuccess(decoders[kind](document.value))) continue
      const reason = `not a ${label[kind]}`
      yield* store.quarantineDocument(kind, id, reason)
      damaged.push({ kind, id, message: `${reason}; moved to quarantine/` })
    }
  }
  process.stdout.write(
    `verified ${result.objects} objects (${bytes(result.bytes)}), ${result.documents} records, ${result.checkpoints} checkpoints\n`
  )
  if (damaged.length > 0) {
    for (const damage of damaged) process.stdout.write(`corrupt ${label[damage.kind]} ${damage.id}: ${damage.message}\n`)
    process.stderr.write(`error: ${damaged.length} damaged item(s) moved to quarantine/; the next run recomputes what needs them\n`)
    process.exitCode = 1
  }
})
