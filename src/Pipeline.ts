/**
 * `definePipeline`: a pipeline file default-exports a DAG built from typed handles. Handles are
 * invariant in their artifact spec, so wiring an output of the wrong kind or table type into an
 * input does not compile; the same checks run when the graph is built (a file run without its
 * types checked, a cast), so a mis-wired input fails at its `p.add` line, naming what it expects
 * and what it got. Handles are frozen and `p.add` keeps copies, so no edit after the fact can
 * rewire the graph; a graph built by hand is checked for cycles before it runs.
 */
import { isAbsolute, resolve } from "node:path"
import * as Graph from "effect/Graph"
import * as Option from "effect/Option"
import { specOf } from "./Artifact.ts"
import type { ArtifactSpec, BlobSpec, FilesSpec, OptionalSpec, TableSpec } from "./Artifact.ts"
import { describeSchema, schemaMismatch } from "./SchemaMismatch.ts"
import { namePattern } from "./Stage.ts"
import type { AnyStage, ConfigSchema, InputSpecs, OutputSpecs, Stage } from "./Stage.ts"

declare const variance: unique symbol

/** A reference to one output of a pipeline node (a stage instance or an external file/directory). */
export interface Handle<S extends ArtifactSpec> {
  readonly node: string
  readonly output: string
  readonly spec: S
  // Phantom: makes Handle invariant in S so a table handle only fits an input of the same table type.
  readonly [variance]?: (spec: S) => S
}

/** What a wire carries: whether a stage streams a table is its own concern, not the wire's. */
export type WireSpec<S extends ArtifactSpec> = S extends TableSpec<infer T> ? TableSpec<T> : S

type RequiredInputs<I extends InputSpecs> = { [K in keyof I]: I[K] extends OptionalSpec ? never : K }[keyof I]
type OptionalInputs<I extends InputSpecs> = { [K in keyof I]: I[K] extends OptionalSpec ? K : never }[keyof I]

/** The handles `p.add` expects for a stage's inputs; optional inputs may be left out. */
export type WiredInputs<I extends InputSpecs> =
  & { readonly [K in RequiredInputs<I>]: I[K] extends ArtifactSpec ? Handle<WireSpec<I[K]>> : never }
  & { readonly [K in OptionalInputs<I>]?: I[K] extends OptionalSpec<infer S> ? Handle<WireSpec<S>> | undefined : never }

/** The handles `p.add` returns, one per output. */
export type OutputHandles<O extends OutputSpecs> = { readonly [K in keyof O]: Handle<WireSpec<O[K]>> }

/** Options of `p.add`. */
export interface AddOptions<C extends ConfigSchema, I extends InputSpecs> {
  /** Instance name (default: the stage's name); `--set name.key=value` addresses it. */
  readonly name?: string
  readonly inputs: WiredInputs<I>
  /** Encoded config; the stage's Schema decodes it (applying defaults) before the run. */
  readonly config?: C["Encoded"]
}

/**
 * Options of `p.file` and `p.dir`. A `name` lets a run choose another path with
 * `--set <name>.path=<path>` (relative to where the command runs), the default path staying what
 * the pipeline file says. A file `in` a directory handle lies under that directory, wherever it is.
 */
export interface ExternalOptions {
  readonly name?: string
}

export interface FileOptions extends ExternalOptions {
  readonly in?: Handle<FilesSpec>
}

/** The builder passed to a pipeline's body. */
export interface PipelineBuilder {
  /** An external file, relative to the pipeline file, hashed by content; its basename is part of its identity. */
  readonly file: (path: string, options?: FileOptions) => Handle<BlobSpec>
  /** An external directory, relative to the pipeline file, hashed by content. */
  readonly dir: (path: string, options?: ExternalOptions) => Handle<FilesSpec>
  /** Adds a stage instance and returns handles to its outputs. */
  readonly add: <C extends ConfigSchema, I extends InputSpecs, O extends OutputSpecs>(
    stage: Stage<C, I, O>,
    options: AddOptions<C, I>
  ) => OutputHandles<O>
}

/** A pipeline value: what a pipeline file default-exports. */
export interface Pipeline {
  readonly _tag: "Pipeline"
  readonly name: string
  readonly seed: number
  readonly build: (p: PipelineBuilder) => void
}

/** Defines a pipeline. */
export const definePipeline = (
  options: { readonly name: string; readonly seed?: number },
  build: (p: PipelineBuilder) => void
): Pipeline => {
  if (!namePattern.test(options.name)) throw new Error(`pipeline name "${options.name}" must be a simple name`)
  return { _tag: "Pipeline", name: options.name, seed: options.seed ?? 0, build }
}

/** A node of the built DAG. */
export type PipelineNode =
  | {
    readonly kind: "file" | "dir"
    readonly id: string
    /** Absolute path on disk. */
    readonly path: string
    /** As written in the pipeline file, or as given with `--set <name>.path`. */
    readonly relPath: string
    /** What `--set <name>.path=…` addresses, for a named input. */
    readonly name?: string
  }
  | {
    readonly kind: "stage"
    readonly id: string
    readonly stage: AnyStage
    readonly inputs: Readonly<Record<string, Handle<ArtifactSpec> | undefined>>
    readonly config: unknown
  }

/** A stage instance of the built DAG. */
export type StageNode = Extract<PipelineNode, { kind: "stage" }>

/** The built DAG: nodes in insertion order, which is a topological order (handles only point back). */
export interface PipelineGraph {
  readonly name: string
  readonly seed: number
  readonly nodes: ReadonlyArray<PipelineNode>
}

/**
 * Error in the shape of a pipeline (duplicate instance, foreign handle, bad name, mis-wired input,
 * cycle). Thrown by `buildGraph` (its stack points at the pipeline file's `p.add` line) and failed
 * with by the runner for a graph built by hand.
 */
export class PipelineShapeError extends Error {
  override readonly name = "PipelineShapeError"
  readonly _tag = "PipelineShapeError"
}

/** What a handle points at, as a message names it. */
const describeHandle = (handle: Handle<ArtifactSpec>, source: PipelineNode | undefined): string =>
  source?.kind === "file" || source?.kind === "dir"
    ? `p.${source.kind}("${source.relPath}")`
    : `output "${handle.output}" of "${handle.node}"`

const kindName: Record<ArtifactSpec["kind"], string> = { table: "table", blob: "file (blob)", files: "directory (files)" }

/** Why `handle` cannot be given to input `key` of stage instance `node`, if it cannot. */
const wiringProblem = (
  node: { readonly id: string; readonly stage: AnyStage },
  key: string,
  spec: ArtifactSpec,
  handle: Handle<ArtifactSpec>,
  source: PipelineNode | undefined
): string | undefined => {
  const at = `stage "${node.id}" (${node.stage.name}), input "${key}"`
  const got = describeHandle(handle, source)
  if (handle.spec.kind !== spec.kind) return `${at}: expects a ${kindName[spec.kind]}, got ${got}, a ${kindName[handle.spec.kind]}`
  if (spec.kind === "table" && handle.spec.kind === "table") {
    const problem = schemaMismatch(spec.schema, handle.spec.schema)
    if (problem !== undefined) {
      return `${at}: expects a table ${describeSchema(spec.schema)}, got ${got}, a table ${describeSchema(handle.spec.schema)} (${problem})`
    }
  }
  return undefined
}

const outputSpec = (source: PipelineNode, output: string): ArtifactSpec | undefined => {
  if (source.kind === "stage") return (source.stage.outputs as OutputSpecs)[output]
  const external: ArtifactSpec = source.kind === "file" ? { kind: "blob" } : { kind: "files" }
  return output === source.kind ? external : undefined
}

/**
 * Checks a built graph as the runner receives it: unique ids, every wire pointing at an existing
 * output of the kind and table schema its input expects, and no cycle (named stage by stage).
 * Throws PipelineShapeError.
 */
export const validateGraph = (graph: PipelineGraph): void => {
  const byId = new Map<string, PipelineNode>()
  for (const node of graph.nodes) {
    if (byId.has(node.id)) throw new PipelineShapeError(`two nodes are named "${node.id}"`)
    byId.set(node.id, node)
  }
  const dag = Graph.directed<string, string>((mutable) => {
    const index = new Map(graph.nodes.map((node) => [node.id, Graph.addNode(mutable, node.id)]))
    for (const node of graph.nodes) {
      if (node.kind !== "stage") continue
      for (const [key, spec] of Object.entries(node.stage.inputs as InputSpecs)) {
        const handle = node.inputs[key]
        if (handle === undefined) {
          if (spec.kind !== "optional") throw new PipelineShapeError(`stage "${node.id}": input "${key}" is not wired`)
          continue
        }
        const source = byId.get(handle.node)
        const produced = source === undefined ? undefined : outputSpec(source, handle.output)
        if (source === undefined || produced === undefined) {
          throw new PipelineShapeError(`stage "${node.id}", input "${key}": no node "${handle.node}" with an output "${handle.output}"`)
        }
        const problem = wiringProblem(node, key, specOf(spec), { ...handle, spec: produced }, source)
        if (problem !== undefined) throw new PipelineShapeError(problem)
        Graph.addEdge(mutable, index.get(source.id)!, index.get(node.id)!, key)
      }
    }
  })
  const cycle = Graph.findCycle(dag)
  if (Option.isSome(cycle)) {
    const names = cycle.value.path.map((index) => Option.getOrElse(Graph.getNode(dag, index), () => String(index)))
    throw new PipelineShapeError(`the wiring forms a cycle: ${names.join(" → ")}; a stage can only read outputs of stages added before it`)
  }
}

/** The names of a graph's named external inputs, which `--set <name>.path` addresses. */
export const externalNames = (graph: PipelineGraph): Set<string> =>
  new Set(graph.nodes.flatMap((node) => node.kind !== "stage" && node.name !== undefined ? [node.name] : []))

/**
 * Runs a pipeline's body against a recording builder. `baseDir` resolves `p.file`/`p.dir` paths;
 * `paths` gives named inputs other (absolute) paths, from `--set <name>.path`.
 */
export const buildGraph = (pipeline: Pipeline, baseDir: string, paths: ReadonlyMap<string, string> = new Map()): PipelineGraph => {
  const nodes: Array<PipelineNode> = []
  const byId = new Map<string, PipelineNode>()
  const names = new Set<string>()
  const external = (kind: "file" | "dir", relPath: string, options: FileOptions = {}) => {
    if (typeof relPath !== "string" || relPath === "") throw new PipelineShapeError(`p.${kind}: expected a path`)
    const { name } = options
    if (name !== undefined) {
      if (!namePattern.test(name)) throw new PipelineShapeError(`p.${kind}("${relPath}"): name "${name}" must match ${namePattern}`)
      if (names.has(name)) throw new PipelineShapeError(`two inputs or stage instances are named "${name}"`)
      names.add(name)
    }
    const inside = options.in === undefined ? undefined : byId.get(options.in.node)
    if (options.in !== undefined && inside?.kind !== "dir") throw new PipelineShapeError(`p.${kind}("${relPath}"): \`in\` must be a p.dir handle`)
    const parent = inside?.kind === "dir" ? inside : undefined
    const given = name === undefined ? undefined : paths.get(name)
    const shown = given ?? (parent === undefined ? relPath : `${parent.relPath}/${relPath}`)
    const path = given ?? (parent !== undefined ? resolve(parent.path, relPath) : isAbsolute(relPath) ? relPath : resolve(baseDir, relPath))
    const id = `${kind}:${name ?? (parent === undefined ? relPath : `${parent.name ?? parent.relPath}/${relPath}`)}`
    const existing = byId.get(id)
    if (existing === undefined) {
      const node: PipelineNode = { kind, id, path, relPath: shown, ...(name === undefined ? {} : { name }) }
      nodes.push(node)
      byId.set(id, node)
    } else if (existing.kind !== kind || existing.path !== path) {
      throw new PipelineShapeError(`p.${kind}("${relPath}") conflicts with an earlier node`)
    }
    return id
  }
  const frozen = <S extends ArtifactSpec>(handle: Handle<S>): Handle<S> => Object.freeze({ ...handle })
  const builder: PipelineBuilder = {
    file: (relPath, options) => frozen({ node: external("file", relPath, options), output: "file", spec: { kind: "blob" } }),
    dir: (relPath, options) => frozen({ node: external("dir", relPath, options), output: "dir", spec: { kind: "files" } }),
    add: (stage, options) => {
      const id = options.name ?? stage.name
      if (!namePattern.test(id)) throw new PipelineShapeError(`instance name "${id}" must match ${namePattern}`)
      if (byId.has(id)) throw new PipelineShapeError(`two stage instances are named "${id}": pass a distinct name to p.add`)
      if (names.has(id)) throw new PipelineShapeError(`an input is named "${id}" too: pass a distinct name to p.add`)
      names.add(id)
      const inputs: Record<string, Handle<ArtifactSpec> | undefined> = {}
      const wired = options.inputs as Readonly<Record<string, Handle<ArtifactSpec> | undefined>>
      for (const key of Object.keys(wired)) {
        if (!(key in stage.inputs)) throw new PipelineShapeError(`${id}: stage ${stage.name} has no input "${key}"`)
      }
      for (const [key, spec] of Object.entries(stage.inputs as InputSpecs)) {
        const handle = wired[key]
        if (handle === undefined) {
          if (spec.kind !== "optional") throw new PipelineShapeError(`${id}: input "${key}" is not wired`)
          inputs[key] = undefined
          continue
        }
        const source = byId.get(handle.node)
        if (source === undefined) throw new PipelineShapeError(`${id}: input "${key}" is a handle from another pipeline`)
        const problem = wiringProblem({ id, stage }, key, specOf(spec), handle, source)
        if (problem !== undefined) throw new PipelineShapeError(problem)
        inputs[key] = frozen(handle)
      }
      const node: PipelineNode = { kind: "stage", id, stage, inputs, config: options.config ?? {} }
      nodes.push(node)
      byId.set(id, node)
      const handles: Record<string, Handle<ArtifactSpec>> = {}
      for (const [output, spec] of Object.entries(stage.outputs as OutputSpecs)) {
        handles[output] = frozen({ node: id, output, spec })
      }
      return Object.freeze(handles) as never
    }
  }
  pipeline.build(builder)
  const graph = { name: pipeline.name, seed: pipeline.seed, nodes }
  validateGraph(graph)
  return graph
}

/** The stage instances of a graph, in its (topological) order. */
export const stageNodes = (graph: PipelineGraph): Array<StageNode> =>
  graph.nodes.filter((node): node is StageNode => node.kind === "stage")
