/**
 * `pipeline inspect <run> <stage> [--rows N]`: calls the stage's own `inspect` on its stored inputs
 * and outputs. The stage definition comes from the run's pipeline file, the config from the run's
 * key manifest.
 */
import { Effect } from "effect"
import type { ArtifactSpec, InputSpec } from "../../Artifact.ts"
import type { AnyStage } from "../../Stage.ts"
import { StageFailure } from "../../StageFailure.ts"
import { readArtifact } from "../../runner/Artifacts.ts"
import { loadPipeline } from "../LoadPipeline.ts"
import { resolveRun } from "../RunRef.ts"
import { UsageError } from "../UserError.ts"

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
    const text = yield* Effect.scoped(Effect.gen(function*() {
      const inputs: Record<string, unknown> = {}
      for (const [name, spec] of Object.entries(stage.inputs as Record<string, InputSpec>)) {
        inputs[name] = yield* readArtifact(spec, entry.inputs?.[name] ?? null)
      }
      const outputs: Record<string, unknown> = {}
      for (const [name, spec] of Object.entries(stage.outputs as Record<string, ArtifactSpec>)) {
        outputs[name] = yield* readArtifact(spec, entry.outputs?.[name] ?? null)
      }
      return yield* stage.inspect!({
        config: entry.manifest!.config,
        inputs: inputs as never,
        outputs: outputs as never,
        rows,
        color: process.stdout.isTTY === true
      }).pipe(
        Effect.catchDefect((defect) => Effect.fail(new StageFailure({ stage: instance, message: String(defect) })))
      )
    }))
    process.stdout.write(text.endsWith("\n") ? text : text + "\n")
  })
