/**
 * `pipeline show <run>`: one run, stage by stage: status, key, outputs, metrics, duration; then its
 * warning signs and what the run found damaged in the store and repaired.
 */
import { Effect } from "effect"
import { short } from "../../key/Key.ts"
import { interruptedAt } from "../../runner/RunLiveness.ts"
import { formatWarning } from "../../telemetry/Warning.ts"
import { duration, table } from "../Format.ts"
import { resolveRun } from "../RunRef.ts"

export const show = (ref: string, json: boolean) =>
  Effect.gen(function*() {
    const run = yield* resolveRun(ref)
    const stages = run.stages.map((stage) => ({
      name: stage.id,
      stage: stage.stage,
      status: stage.status,
      key: stage.key ?? null,
      hit: stage.status === "hit",
      outputs: Object.fromEntries(Object.entries(stage.outputs ?? {}).map(([name, out]) => [name, out.digest])),
      metrics: stage.metrics ?? {},
      durationMs: stage.durationMs ?? null,
      ...(stage.error === undefined ? {} : { error: stage.error })
    }))
    if (json) {
      const out = { id: run.id, pipeline: run.pipeline, status: run.status,
        ...(run.status === "interrupted" ? { interruptedAt: interruptedAt(run) } : {}), seed: run.seed, sanity: run.sanity,
        overrides: run.overrides, startedAt: run.startedAt, durationMs: run.durationMs ?? null, stages,
        warnings: run.warnings ?? [], repairs: run.repairs ?? [] }
      process.stdout.write(JSON.stringify(out, null, 2) + "\n")
      return
    }
    const stoppedAt = run.status === "interrupted" ? interruptedAt(run) : []
    const lines = [
      `run ${run.id}  ${run.status}${stoppedAt.length > 0 ? ` at ${stoppedAt.join(", ")}` : ""}  pipeline ${run.pipeline.name} (${run.pipeline.file})`,
      `seed ${run.seed}${run.sanity ? "  sanity" : ""}${run.overrides.length > 0 ? `  --set ${run.overrides.join(" ")}` : ""}`,
      `started ${run.startedAt}  duration ${duration(run.durationMs)}`,
      ...(run.error === undefined ? [] : [`error: ${run.error}`]),
      ...(run.repairs ?? []).map((repair) => `repaired: ${repair}`),
      "",
      table([
        ["STAGE", "STATUS", "KEY", "DURATION", "OUTPUTS", "METRICS"],
        ...stages.map((stage) => [
          stage.name,
          stage.status,
          stage.key === null ? "-" : short(stage.key),
          stage.hit ? "cached" : duration(stage.durationMs ?? undefined),
          Object.entries(stage.outputs).map(([name, digest]) => `${name}=${short(digest)}`).join(" "),
          Object.entries(stage.metrics).map(([name, value]) => `${name}=${value}`).join(" ")
        ])
      ]),
      ...(run.warnings === undefined || run.warnings.length === 0
        ? []
        : ["", `WARNINGS (${run.warnings.length})`, ...run.warnings.map((warning) => `  ${formatWarning(warning)}`)])
    ]
    process.stdout.write(lines.join("\n") + "\n")
  })
