/** `pipeline diff <A> <B>`: stages side by side, cache hits and misses, metric deltas. */
import { Effect } from "effect"
import { short } from "../../key/Key.ts"
import type { RunStage } from "../../runner/Records.ts"
import { duration, table } from "../Format.ts"
import { resolvePair } from "../RunRef.ts"

const metricDeltas = (a: RunStage | undefined, b: RunStage | undefined) => {
  const ma = a?.metrics ?? {}
  const mb = b?.metrics ?? {}
  const out: Record<string, { a: number | string | null; b: number | string | null; delta: number | null }> = {}
  for (const name of [...new Set([...Object.keys(ma), ...Object.keys(mb)])].sort()) {
    const va = ma[name] ?? null
    const vb = mb[name] ?? null
    out[name] = { a: va, b: vb, delta: typeof va === "number" && typeof vb === "number" ? vb - va : null }
  }
  return out
}

const formatDelta = (name: string, m: { a: unknown; b: unknown; delta: number | null }): string => {
  if (m.a === m.b) return ""
  const sign = m.delta === null ? "" : ` (${m.delta >= 0 ? "+" : ""}${Number(m.delta.toPrecision(6))})`
  return `${name} ${m.a ?? "-"} → ${m.b ?? "-"}${sign}`
}

export const diff = (refA: string, refB: string, json: boolean) =>
  Effect.gen(function*() {
    const { a, b, stages } = yield* resolvePair(refA, refB)
    const rows = stages.map(({ id, a: sa, b: sb }) => ({
      stage: id,
      a: sa === undefined ? null : { status: sa.status, key: sa.key ?? null, durationMs: sa.durationMs ?? null },
      b: sb === undefined ? null : { status: sb.status, key: sb.key ?? null, durationMs: sb.durationMs ?? null },
      sameKey: sa?.key !== undefined && sa.key === sb?.key,
      metrics: metricDeltas(sa, sb)
    }))
    if (json) {
      process.stdout.write(JSON.stringify({ a: a.id, b: b.id, stages: rows }, null, 2) + "\n")
      return
    }
    const side = (s: { status: string; key: string | null; durationMs: number | null } | null) =>
      s === null ? "-" : `${s.status} ${s.key === null ? "-" : short(s.key)} ${s.status === "hit" ? "" : duration(s.durationMs ?? undefined)}`.trim()
    process.stdout.write(table([
      ["STAGE", a.id, b.id, "KEY", "METRICS"],
      ...rows.map((row) => [
        row.stage,
        side(row.a),
        side(row.b),
        row.sameKey ? "same" : "differs",
        Object.entries(row.metrics).map(([name, m]) => formatDelta(name, m)).filter((s) => s !== "").join(", ")
      ])
    ]) + "\n")
  })
