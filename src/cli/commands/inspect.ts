/**
 * `pipeline inspect <run> <stage> [--rows N]`: calls the stage's own `inspect` on its stored inputs
 * and outputs. The stage definition comes from the run's pipeline file, the config from the run's
 * key manifest. `run --sanity` ends with every stage's view (see run.ts).
 */
import { Effect } from "effect"
import type { InputSpec } from "../../Artifact.ts"
import type { AnyStage } from "../../Stage.ts"
import { readArtifacts } from "../../runner/Artifacts.ts"
import type { RunStage } from "../../runner/Records.ts"
import { defectsAsFailures } from "../../runner/Runner.ts"
import { loadPipeline } from "../LoadPipeline.ts"
import { resolveRun } from "../RunRef.ts"
import { UsageError } from "../UserError.ts"

/** A finished stage's own view of its stored inputs and outputs (its config from the key manifest). */
export const stageView = (stage: AnyStage, entry: RunStage, rows: number) =>
  Effect.scoped(Effect.gen(function*() {
    const inputs = yield* readArtifacts(stage.inputs as Record<string, InputSpec>, entry.inputs)
    const outputs = yield* readArtifacts(stage.outputs as Record<string, InputSpec>, entry.outputs)
    return yield* stage.inspect!({
      config: entry.manifest!.config,
      inputs: inputs as never,
      outputs: outputs as never,
      rows,
      color: process.stdout.isTTY === true
    }).pipe(defectsAsFailures(entry.id))
  }))

export const inspect = (ref: string, instance: string, rows: number) =>
  Effect.gen(function*() {
    const run = yield* resolveRun(ref)
    const entry = run.stages.find((stage) => stage.id === instance)
    if (entry === undefined) {
      return yield* new UsageError({
        message: `run ${run.id} has no stage "${instance}" (stages: ${run.stages.map((s) => s.id).join(", ")})`
      })
    }
    if (entry.outputs === undefined || entry.manifest === undefined) {
      return yield* new UsageError({ message: `stage ${instance} did not finish in run ${run.id} (${entry.status})` })
    }
    const { graph } = yield* loadPipeline(run.pipeline.file)
    const node = graph.nodes.find((n) => n.id === instance)
    if (node === undefined || node.kind !== "stage") {
      return yield* new UsageError({ message: `${run.pipeline.file} no longer has a stage "${instance}"` })
    }
    const stage = node.stage as AnyStage
    if (stage.inspect === undefined) {
      return yield* new UsageError({ message: `stage ${stage.name} has no inspect view` })
    }
    const text = yield* stageView(stage, entry, rows)
    process.stdout.write(text.endsWith("\n") ? text : text + "\n")
  })
