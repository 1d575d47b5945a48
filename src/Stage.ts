/**
 * `defineStage`: a stage is a named, typed transformation from input artifacts to output artifacts,
 * with an Effect Schema config. Its key covers its code (found from `module`), config, inputs and env.
 */
import type { Effect, Option, Schema, Scope } from "effect"
import type { ArtifactSpec, InputSpec, InputValue, OutputValue } from "./Artifact.ts"
import type { Resources } from "./Resources.ts"
import type { StageFailure } from "./StageFailure.ts"

/** Input declarations of a stage, by input name. */
export type InputSpecs = Readonly<Record<string, InputSpec>>

/** Output declarations of a stage, by output name. */
export type OutputSpecs = Readonly<Record<string, ArtifactSpec>>

/** Any config schema without service requirements. */
export type ConfigSchema = Schema.Codec<any, any>

/** Values a stage reads, by input name. */
export type InputValues<I extends InputSpecs> = { readonly [K in keyof I]: InputValue<I[K]> }

/** Values a stage produces, by output name. */
export type OutputValues<O extends OutputSpecs> = { readonly [K in keyof O]: OutputValue<O[K]> }

/** Mid-stage checkpoints of long stages, keyed by the stage key and a step, for resume after a kill. */
export interface Checkpoints {
  /** Copies `dir` into the store as the checkpoint of `step`. */
  readonly save: (step: number, dir: string) => Effect.Effect<void, StageFailure>
  /** The checkpoint with the highest step, as a read-only directory. */
  readonly latest: () => Effect.Effect<Option.Option<{ readonly step: number; readonly dir: string }>, StageFailure>
}

/** Run-wide settings a stage can read from its context. */
export type RunSetting = "seed" | "sanity"

/** What `run` receives. */
export interface RunContext<C, I extends InputSpecs> {
  readonly config: C
  readonly inputs: InputValues<I>
  /** uint32 derived from the run seed and the instance name; readable when the stage `reads` "seed". */
  readonly seed: number
  /** A scratch directory inside the store, removed when the stage ends; file outputs are written here. */
  readonly tmpDir: string
  /** Reports progress of a long stage for the live display. */
  readonly progress: (done: number, total: number) => void
  /** Appends a line to the stage's log. */
  readonly log: (message: string) => void
  /**
   * Telemetry of one step of a long stage, by tag (`train/loss`, `eval/loss`): for the live view,
   * the run's TensorBoard files and its warnings. Never part of an output or a key, so wall-clock
   * figures (tokens/s, memory) belong here.
   */
  readonly scalars: (step: number, values: Readonly<Record<string, number>>) => void
  /** True for `pipeline run --sanity` (a short smoke run); readable when the stage `reads` "sanity". */
  readonly sanity: boolean
  /**
   * Worker threads a data stage may use (`--workers`, default: the machine's cores). Not in any
   * key: a stage's outputs must not depend on it.
   */
  readonly workers: number
  /**
   * Rows a data stage holds at once (`--batch-size`): what bounds its memory. Not in any key: a
   * stage's outputs must not depend on it.
   */
  readonly batchSize: number
  readonly checkpoints: Checkpoints
}

/** What `run` returns: the outputs and optional scalar metrics (kept in the stage record). */
export interface RunResult<O extends OutputSpecs> {
  readonly outputs: OutputValues<O>
  readonly metrics?: Readonly<Record<string, number | string>>
}

/** What `inspect` receives: outputs are decoded like inputs. */
export interface InspectContext<C, I extends InputSpecs, O extends OutputSpecs> {
  readonly config: C
  readonly inputs: InputValues<I>
  readonly outputs: { readonly [K in keyof O]: InputValue<O[K]> }
  readonly rows: number
  readonly color: boolean
}

/** The declaration passed to `defineStage`. */
export interface StageDefinition<C extends ConfigSchema, I extends InputSpecs, O extends OutputSpecs> {
  /** Default instance name in pipelines. */
  readonly name: string
  /** `import.meta.url` of the defining module: the root of the automatic code digest. */
  readonly module: string
  /** Explicit salt: bump to invalidate cached results when nothing in the code changed. */
  readonly version?: string
  /** More files or directories (relative to `module`) hashed into the code digest. */
  readonly extraCode?: ReadonlyArray<string>
  readonly config: C
  readonly inputs: I
  readonly outputs: O
  /**
   * The run-wide settings the stage reads: only these enter its key, so a new `--seed` or
   * `--sanity` does not recompute stages that ignore it (tokenization). Reading one that is not
   * declared fails the stage. A function of the config when that decides (a `dataSeed` in the
   * config replaces the run's seed). Default: both.
   */
  readonly reads?: ReadonlyArray<RunSetting> | ((config: C["Type"]) => ReadonlyArray<RunSetting>)
  /**
   * Top-level config fields that cannot change the outputs (a thread count): left out of the key,
   * so changing one is a cache hit. The stage must give the same bytes whatever their value.
   */
  readonly unkeyed?: ReadonlyArray<string>
  /**
   * What the stage asks of a machine when an executor runs it as a job (`--executor slurm`):
   * CPUs, memory, GPUs, time limit. Not in the key; `--set <instance>.resources.gpus=1` overrides.
   */
  readonly resources?: Resources
  /** Declared environment facts that change results (backend, dtype, …); they enter the key. */
  readonly env?: (config: C["Type"]) => Readonly<Record<string, string>>
  readonly run: (ctx: RunContext<C["Type"], I>) => Effect.Effect<RunResult<O>, StageFailure, Scope.Scope>
  /** Human-readable view of a finished stage for `pipeline inspect`. */
  readonly inspect?: (ctx: InspectContext<C["Type"], I, O>) => Effect.Effect<string, StageFailure, Scope.Scope>
}

/** A stage value, ready to be added to pipelines. */
export interface Stage<C extends ConfigSchema = ConfigSchema, I extends InputSpecs = InputSpecs, O extends OutputSpecs = OutputSpecs>
  extends StageDefinition<C, I, O>
{
  readonly _tag: "Stage"
}

/** Any stage, for code that handles stages generically. */
// Function-typed fields are contravariant in C/I/O, so the generic form is spelled with `any`.
export type AnyStage = Stage<any, any, any>

/** The pattern every stage, instance and output name matches (so none can escape the store). */
export const namePattern = /^[A-Za-z][A-Za-z0-9_-]*$/

/** Defines a stage. Throws on an invalid name (a programming error in the stage file). */
export const defineStage = <const C extends ConfigSchema, const I extends InputSpecs, const O extends OutputSpecs>(
  definition: StageDefinition<C, I, O>
): Stage<C, I, O> => {
  if (!namePattern.test(definition.name)) {
    throw new Error(`stage name "${definition.name}" must match ${namePattern}`)
  }
  for (const output of Object.keys(definition.outputs)) {
    if (!namePattern.test(output)) throw new Error(`stage ${definition.name}: output name "${output}" must match ${namePattern}`)
  }
  return { ...definition, _tag: "Stage" }
}
