/**
 * What a stage asks of the machine it runs on, for executors that schedule stages as jobs
 * (`--executor slurm`). Declared by a stage (`resources` in defineStage) and set per run with
 * `--set <instance>.resources.<field>=<value>`. Never in a key: where a stage ran cannot change
 * its outputs.
 */
import { Effect, Schema, SchemaIssue } from "effect"
import { jsonPointer } from "./key/Canonical.ts"
import type { Override } from "./runner/Config.ts"
import { ConfigError } from "./runner/Config.ts"

const positive = Schema.Int.pipe(Schema.check(Schema.isGreaterThanOrEqualTo(1)))
const slurmWord = Schema.String.pipe(Schema.check(Schema.isPattern(/^[A-Za-z0-9_.:+-]+$/, { expected: "letters, digits and _.:+-" })))

/** A stage's resource request; every field optional (the scheduler's default applies). */
export const Resources = Schema.Struct({
  /** CPU cores for the stage's one task. */
  cpus: Schema.optional(positive),
  /** Memory, as the scheduler writes it: "4G", "500M". */
  memory: Schema.optional(Schema.String.pipe(Schema.check(Schema.isPattern(/^[1-9]\d*[KMGT]?$/, { expected: "a size such as 4G or 500M" })))),
  /** GPUs (Slurm: --gres=gpu:N). */
  gpus: Schema.optional(Schema.Int.pipe(Schema.check(Schema.isGreaterThanOrEqualTo(0)))),
  /** Wall-time limit, as the scheduler writes it: "90", "2:00:00", "1-00:00:00". */
  time: Schema.optional(Schema.String.pipe(Schema.check(Schema.isPattern(/^(\d+-)?\d+(:\d{2}){0,2}$/, { expected: "minutes, H:MM:SS or D-HH:MM:SS" })))),
  partition: Schema.optional(slurmWord),
  account: Schema.optional(slurmWord)
})

/** A decoded resource request. */
export type Resources = typeof Resources.Type

/** Whether an override sets a resource rather than a config value. */
export const isResourceOverride = (override: Override): boolean => override.path[0] === "resources"

const formatter = SchemaIssue.makeFormatterStandardSchemaV1()

/** The resources of instance `id`: its stage's declaration with this run's overrides applied. */
export const resourcesOf = (
  id: string,
  declared: Resources | undefined,
  overrides: ReadonlyArray<Override>
): Effect.Effect<Resources, ConfigError> => {
  const merged: Record<string, unknown> = { ...declared }
  for (const override of overrides) {
    if (override.instance !== id || !isResourceOverride(override)) continue
    if (override.path.length !== 2) {
      return Effect.fail(new ConfigError({ path: override.text, message: "expected --set <instance>.resources.<field>=<value>" }))
    }
    merged[override.path[1]!] = override.value
  }
  return Schema.decodeUnknownEffect(Resources)(merged, { onExcessProperty: "error" }).pipe(
    Effect.mapError((error) => {
      const issue = formatter(error.issue).issues[0]
      const path = (issue?.path ?? []).map((segment) => (typeof segment === "object" ? String(segment.key) : String(segment)))
      return new ConfigError({ path: jsonPointer([id, "resources", ...path]), message: issue?.message ?? error.message })
    })
  )
}
