/** `pipeline explain <A> <B>`: for every stage whose key differs, the exact reasons. */
import { Effect } from "effect"
import { explainRuns, formatExplained } from "../ExplainRuns.ts"
import { resolveRun } from "../RunRef.ts"

export const explain = (refA: string, refB: string, json: boolean) =>
  Effect.gen(function*() {
    const a = yield* resolveRun(refA)
    const b = yield* resolveRun(refB)
    const out = explainRuns(a, b)
    if (json) {
      process.stdout.write(JSON.stringify({ a: a.id, b: b.id, stages: out }, null, 2) + "\n")
      return
    }
    if (out.length === 0) {
      process.stdout.write(`no stage keys differ between ${a.id} and ${b.id}\n`)
      return
    }
    const lines: Array<string> = []
    for (const item of out) {
      const { head, reasons } = formatExplained(item)
      lines.push(head, ...reasons.map((reason) => `  ${reason}`))
    }
    process.stdout.write(lines.join("\n") + "\n")
  })
