/** Why the stage keys of two runs differ, stage by stage: what `explain` prints and `report` shows. */
import { short } from "../key/Key.ts"
import { explainManifests, formatReason } from "../runner/Explain.ts"
import type { Reason } from "../runner/Explain.ts"
import type { RunRecord } from "../runner/Records.ts"
import { pairStages } from "./RunRef.ts"

/** One stage whose key differs, with the reasons (or a note when they cannot be known). */
export interface Explained {
  readonly stage: string
  readonly keyA: string | null
  readonly keyB: string | null
  readonly reasons: ReadonlyArray<Reason>
  readonly note?: string
}

/** Every stage instance whose key differs between `a` and `b`, in A's order. */
export const explainRuns = (a: RunRecord, b: RunRecord): Array<Explained> => {
  const out: Array<Explained> = []
  for (const { id, a: sa, b: sb } of pairStages(a, b)) {
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
  return out
}

/** `explain`'s text of one stage: `train  ab12… → cd34…  (note)`, then one line per reason. */
export const formatExplained = (item: Explained): { readonly head: string; readonly reasons: Array<string> } => {
  const keys = `${item.keyA === null ? "-" : short(item.keyA)} → ${item.keyB === null ? "-" : short(item.keyB)}`
  return {
    head: `${item.stage}  ${keys}${item.note === undefined ? "" : `  (${item.note})`}`,
    reasons: item.reasons.map(formatReason)
  }
}
