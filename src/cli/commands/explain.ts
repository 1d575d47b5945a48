/** `pipeline explain <A> <B>`: for every stage whose key differs, the exact reasons. */
import { Effect } from "effect"
import { short } from "../../key/Key.ts"
import { explainManifests, formatReason } from "../../runner/Explain.ts"
import type { Reason } from "../../runner/Explain.ts"
import { resolvePair } from "../RunRef.ts"

interface Explained {
  readonly stage: string
  readonly keyA: string | null
  readonly keyB: string | null
  readonly reasons: ReadonlyArray<Reason>
  readonly note?: string
}

export const explain = (refA: string, refB: string, json: boolean) =>
  Effect.gen(function*() {
    const { a, b, stages } = yield* resolvePair(refA, refB)
    const out: Array<Explained> = []
    for (const { id, a: sa, b: sb } of stages) {
      const keyA = sa?.key ?? null
      const keyB = sb?.key ?? null
      if (sa === undefined || sb === undefined) {
        out.push({ stage: id, keyA, keyB, reasons: [], note: sa === undefined ? `only in ${b.id}` : `only in ${a.id}` })
      } else if (keyA !== keyB) {
        if (sa.manifest === undefined || sb.manifest === undefined) {
          out.push({ stage: id, keyA, keyB, reasons: [], note: "no key in one run (it stopped before this stage)" })
        } else {
          out.push({ stage: id, keyA, keyB, reasons: explainManifests(id, sa.manifest, sb.manifest) })
        }
      }
    }
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
      const keys = `${item.keyA === null ? "-" : short(item.keyA)} → ${item.keyB === null ? "-" : short(item.keyB)}`
      lines.push(`${item.stage}  ${keys}${item.note === undefined ? "" : `  (${item.note})`}`)
      for (const reason of item.reasons) lines.push(`  ${formatReason(reason)}`)
    }
    process.stdout.write(lines.join("\n") + "\n")
  })
