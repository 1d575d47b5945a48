/**
 * A warning sign seen in a stage's telemetry (section 4 of the TRL chapter): what was seen, at
 * which step, and what to do about it. Kept in the run record, shown live and by `show`/`report`.
 */
import { Schema } from "effect"

/** The kinds of warning sign. */
export const WarningKind = Schema.Literals([
  "loss-spike",
  "loss-not-finite",
  "grad-norm-exploding",
  "grad-norm-vanishing",
  "overfitting",
  "throughput-drop"
])
export type WarningKind = typeof WarningKind.Type

export const Warning = Schema.Struct({
  /** The stage instance whose telemetry showed it. */
  stage: Schema.String,
  /** The global step where it was first seen (a sign that persists is reported once, when it starts). */
  step: Schema.Number,
  kind: WarningKind,
  /** What was seen, with the numbers. */
  message: Schema.String,
  /** What to do about it. */
  advice: Schema.String
})
export type Warning = typeof Warning.Type

/** One line for a person: `train step 4: loss-spike: … — …`. */
export const formatWarning = (warning: Warning): string =>
  `${warning.stage} step ${warning.step}: ${warning.message} — ${warning.advice}`
