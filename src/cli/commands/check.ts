/**
 * `pipeline check <file>`: what `run` would refuse, found without running a stage: the TypeScript
 * errors of the pipeline file and its stages (the ones an editor shows), then the graph as `run`
 * builds it (wiring kinds and table schemas, cycles, each named at its `p.add` line) and every
 * stage's config decoded by its Schema.
 */
import { Effect } from "effect"
import { stageNodes } from "../../Pipeline.ts"
import { configure } from "../../runner/Config.ts"
import { loadPipeline } from "../LoadPipeline.ts"
import { typeErrors } from "../TypeCheck.ts"
import { UsageError } from "../UserError.ts"
import { resolve } from "node:path"

export const check = (file: string) =>
  Effect.gen(function*() {
    const errors = yield* typeErrors(resolve(file))
    for (const error of errors) process.stderr.write(`${error}\n`)
    const { graph } = yield* loadPipeline(file)
    yield* configure(graph, [])
    if (errors.length > 0) return yield* new UsageError({ message: `${file}: ${errors.length} type error(s)` })
    const stages = stageNodes(graph)
    const wires = stages.reduce((n, node) => n + Object.values(node.inputs).filter((handle) => handle !== undefined).length, 0)
    process.stdout.write(`${file}: ok (${stages.length} stages, ${wires} wires; types, wiring and configs check)\n`)
  })
