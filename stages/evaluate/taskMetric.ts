/**
 * The evaluate stage's optional task metric: whether a generated answer is right, by one of three
 * rules a TRL user reaches for. `exactMatch` compares the trimmed texts; `contains` looks for a
 * fixed text (the identity demo's "does it name itself") or else the reference; `regex` extracts
 * the first capture group from both (GSM8K's `#### (\-?[\d,.]+)`) and compares those.
 */
import { Schema } from "effect"

export const TaskMetric = Schema.Union([
  Schema.Struct({ type: Schema.Literal("exactMatch") }),
  Schema.Struct({
    type: Schema.Literal("contains"),
    /** The text a right answer contains; absent: the reference answer. */
    text: Schema.optionalKey(Schema.String)
  }),
  Schema.Struct({
    type: Schema.Literal("regex"),
    /** A JavaScript regular expression with one capture group: the answer. */
    pattern: Schema.String,
    flags: Schema.optionalKey(Schema.String)
  })
])
export type TaskMetric = typeof TaskMetric.Type

/** A name for logs and the stage's metrics: `contains "Ada"`, `regex /#### (\d+)/`. */
export const describeMetric = (metric: TaskMetric): string => {
  switch (metric.type) {
    case "exactMatch":
      return "exact match"
    case "contains":
      return metric.text === undefined ? "contains the reference" : `contains ${JSON.stringify(metric.text)}`
    case "regex":
      return `regex /${metric.pattern}/${metric.flags ?? ""}`
  }
}

/** Compiles the metric into a judge of (generated, reference); throws on a bad pattern. */
export const judge = (metric: TaskMetric): (generated: string, reference: string) => boolean => {
  switch (metric.type) {
    case "exactMatch":
      return (generated, reference) => generated.trim() === reference.trim()
    case "contains": {
      const text = metric.text
      return (generated, reference) => generated.includes(text ?? reference.trim())
    }
    case "regex": {
      let pattern: RegExp
      try {
        // Without `g` and `y`: a stateful lastIndex would make the same answer match only every other time.
        pattern = new RegExp(metric.pattern, metric.flags?.replace(/[gy]/g, ""))
      } catch (error) {
        throw new Error(`metric.pattern: ${(error as Error).message}`)
      }
      const extract = (text: string) => pattern.exec(text)?.[1]?.trim()
      return (generated, reference) => {
        const answer = extract(generated)
        return answer !== undefined && answer === extract(reference)
      }
    }
  }
}
