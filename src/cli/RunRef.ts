/**
 * Resolves what a person types for a run: a full id, a unique prefix, `last` or `last~N`.
 */
import { Effect, Option, Schema } from "effect"
import { RunRecord } from "../runner/Records.ts"
import type { RunStage } from "../runner/Records.ts"
import { asSeen } from "../runner/RunLiveness.ts"
import { Store } from "../store/Store.ts"
import type { StoreError } from "../store/Store.ts"

/** No run, or more than one, matches what was typed. */
export class RunNotFound extends Schema.TaggedError<RunNotFound>()("RunNotFound", {
  ref: Schema.String,
  message: Schema.String
}) {}

const decodeRun = Schema.decodeUnknownOption(RunRecord)

/** Run ids in the store, oldest first (ids sort chronologically). */
export const runIds = Effect.gen(function*() {
  const store = yield* Store
  return (yield* store.listDocuments("runs")).map((doc) => doc.id).sort()
})

/**
 * Reads a run record by exact id, as it stands now (a run whose process is gone is interrupted).
 * A record that fails its seal or schema is quarantined and reported as not found, saying why.
 */
export const readRun = (id: string): Effect.Effect<RunRecord, RunNotFound | StoreError, Store> =>
  Effect.gen(function*() {
    const store = yield* Store
    const doc = yield* store.getDocument("runs", id).pipe(
      Effect.catchTag("CorruptDocument", (error) => Effect.fail(new RunNotFound({ ref: id, message: error.message })))
    )
    if (Option.isNone(doc)) return yield* new RunNotFound({ ref: id, message: "no such run record" })
    const run = decodeRun(doc.value)
    if (Option.isNone(run)) {
      yield* store.quarantineDocument("runs", id, "not a run record")
      return yield* new RunNotFound({ ref: id, message: `runs/${id}.json is not a run record; moved to quarantine/` })
    }
    return asSeen(run.value)
  })

/** Resolves a run reference to its record. */
export const resolveRun = (ref: string): Effect.Effect<RunRecord, RunNotFound | StoreError, Store> =>
  Effect.gen(function*() {
    const ids = yield* runIds
    const relative = /^last(?:~(\d+))?$/.exec(ref)
    if (relative) {
      const back = Number(relative[1] ?? 0)
      const id = ids[ids.length - 1 - back]
      if (id === undefined) {
        return yield* new RunNotFound({ ref, message: `only ${ids.length} run(s) in the store` })
      }
      return yield* readRun(id)
    }
    if (ids.includes(ref)) return yield* readRun(ref)
    const matches = ids.filter((id) => id.startsWith(ref))
    if (matches.length === 1) return yield* readRun(matches[0]!)
    if (matches.length === 0) return yield* new RunNotFound({ ref, message: "no run with this id or prefix" })
    return yield* new RunNotFound({
      ref,
      message: `ambiguous: ${matches.length} runs match (${matches.slice(0, 3).join(", ")}, …)`
    })
  })

/** The same stage instance in two runs; one side is undefined when only the other run has it. */
export interface PairedStage {
  readonly id: string
  readonly a: RunStage | undefined
  readonly b: RunStage | undefined
}

/** The stage instances of two runs paired by id (A's order, then those only in B). */
export const pairStages = (a: RunRecord, b: RunRecord): Array<PairedStage> => {
  const byIdA = new Map(a.stages.map((stage) => [stage.id, stage]))
  const byIdB = new Map(b.stages.map((stage) => [stage.id, stage]))
  return [...new Set([...byIdA.keys(), ...byIdB.keys()])].map((id) => ({ id, a: byIdA.get(id), b: byIdB.get(id) }))
}

/** Resolves two run references and pairs their stage instances. */
export const resolvePair = (refA: string, refB: string) =>
  Effect.gen(function*() {
    const a = yield* resolveRun(refA)
    const b = yield* resolveRun(refB)
    return { a, b, stages: pairStages(a, b) }
  })
