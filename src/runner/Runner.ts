/**
 * The runner: executes a pipeline graph against the store.
 *
 * Every node is one memoised Effect, so a shared upstream runs once; independent stages run
 * concurrently. For a stage the order is fresh → cache hit → run (wireit's): compute the key from
 * the manifest, take the stored record if it decodes and every object it names is still what was
 * written, otherwise take the key's cross-process lock, look again (another process may have
 * committed it meanwhile), and run. Outputs become objects first and the stage record last, so the
 * record is the commit point: a killed run leaves nothing visible but objects nobody references yet.
 *
 * The store heals in the same run: an unreadable stage record or a damaged output makes a miss
 * (the store quarantined what was damaged); a damaged input met while a stage reads it makes the
 * runner produce that input again (an upstream stage recomputed, an external file re-imported) and
 * read it once more. Each repair is a warning in the run's log and record.
 *
 * The whole run pins what it touches (Store.pinning), so gc running meanwhile keeps it.
 *
 * A failing stage fails only its downstream; the rest of the graph still completes.
 */
import { availableParallelism } from "node:os"
import { Cause, Effect, Exit, Option, Schema } from "effect"
import type { Scope } from "effect"
import type { ArtifactSpec, BlobRef, FilesRef, InputSpec } from "../Artifact.ts"
import { PipelineShapeError, stageNodes, validateGraph } from "../Pipeline.ts"
import type { Handle, PipelineGraph, PipelineNode, StageNode } from "../Pipeline.ts"
import type { AnyStage, RunContext, RunSetting } from "../Stage.ts"
import { errorLine } from "../ErrorLine.ts"
import { type Resources, resourcesOf } from "../Resources.ts"
import { StageFailure } from "../StageFailure.ts"
import { toCanonical, NotCanonical } from "../key/Canonical.ts"
import type { Json } from "../key/Canonical.ts"
import { codeOf, CodeDigestError, type ModuleCache } from "../key/CodeDigest.ts"
import type { StageCode } from "../key/CodeDigest.ts"
import { keyOf, short } from "../key/Key.ts"
import type { Key } from "../key/Key.ts"
import { engineVersion, schemeVersion } from "../key/Manifest.ts"
import type { KeyManifest } from "../key/Manifest.ts"
import * as Owners from "../store/Owner.ts"
import { Store, StoreError } from "../store/Store.ts"
import { makeWarningSigns } from "../telemetry/WarningSigns.ts"
import type { Warning } from "../telemetry/Warning.ts"
import { checkArtifacts, DamagedArtifact, OutputMismatch, putOutput, readArtifacts } from "./Artifacts.ts"
import { asConfigError, configure, ConfigError } from "./Config.ts"
import type { ConfiguredStage, Override } from "./Config.ts"
import { importDir, importFile, loadStatCache, MissingInput, saveStatCache } from "./External.ts"
import { StageRecord } from "./Records.ts"
import type { ArtifactRef, RunRecord, RunStage } from "./Records.ts"
import { type Executor, local } from "./Executor.ts"
import type { Reporter } from "./Reporter.ts"
import { newRunId } from "./RunId.ts"
import { stageSeed } from "./Seed.ts"

/** What `runPipeline` needs. */
export interface RunOptions {
  readonly file: string
  readonly graph: PipelineGraph
  /**
   * A source file that changed since the pipeline's code was loaded, if any. Asked once every
   * stage's code digest is taken: a digest of a file edited in between would describe other code
   * than the code that runs, and a result stored under its key would be wrong for good.
   */
  readonly changedSinceLoad?: () => string | undefined
  readonly overrides: ReadonlyArray<Override>
  readonly seed?: number
  readonly sanity: boolean
  /** Worker threads per data stage (default: available cores); never part of a key. */
  readonly workers?: number
  /** Rows a data stage holds at once (default {@link defaultBatchSize}); never part of a key. */
  readonly batchSize?: number
  /** Instances recomputed from scratch (their record and checkpoints ignored). */
  readonly force: ReadonlyArray<string>
  readonly reporter: Reporter
  /** Where stages are computed (default: in this process). */
  readonly executor?: Executor
  /**
   * Set in a job of a job executor: compute only instance `id` (and what it needs, which the
   * driver has committed), fail unless its key is `key`, and write no run record (the driver's
   * run is the one that counts).
   */
  readonly only?: { readonly id: string; readonly key: string }
}

/** A node could not produce its outputs because an upstream node failed. */
class UpstreamFailed extends Schema.TaggedError<UpstreamFailed>()("UpstreamFailed", {
  node: Schema.String
}) {}

type NodeError = StageFailure | OutputMismatch | StoreError | DamagedArtifact | MissingInput | UpstreamFailed | ConfigError

type Outputs = Readonly<Record<string, ArtifactRef>>

/** Rows a data stage holds at once unless `--batch-size` says otherwise. */
export const defaultBatchSize = 10_000

/** How often a stage reads its inputs again after repairing one it found damaged. */
const maxRepairs = 3

const decodeStageRecord = Schema.decodeUnknownExit(StageRecord)

/** The error text a person reads for a failed node (whose id is shown beside it). */
const describeError = (error: NodeError): string => {
  switch (error._tag) {
    case "StageFailure":
      return error.message
    case "OutputMismatch":
      return `output ${error.output}: ${error.message}`
    case "UpstreamFailed":
      return `upstream ${error.node} failed`
    case "DamagedArtifact":
      return `${error.name}: ${error.message}`
    default:
      return errorLine(error)
  }
}

/** The key manifest of a stage instance, from its configured config and its inputs' identities. */
const manifestOf = (
  configured: ConfiguredStage,
  code: StageCode,
  inputs: Readonly<Record<string, ArtifactRef | null>>,
  seed: number | null,
  sanity: boolean | null
): Effect.Effect<KeyManifest, ConfigError> =>
  Effect.try({
    try: () => {
      const stage = configured.node.stage as AnyStage
      const declared = stage.env?.(configured.config) ?? {}
      const run = sanity === null ? {} : { sanity: String(sanity) }
      const env = toCanonical({ ...declared, ...run }, [configured.node.id, "env"]) as Record<
        string,
        Json
      >
      for (const [name, value] of Object.entries(env)) {
        if (typeof value !== "string") {
          throw new NotCanonical({ path: `/${configured.node.id}/env/${name}`, message: "env facts must be strings" })
        }
      }
      const identities: Record<string, { digest: string; name: string } | null> = {}
      for (const [name, ref] of Object.entries(inputs)) {
        identities[name] = ref === null ? null : { digest: ref.digest, name: ref.name }
      }
      return {
        scheme: schemeVersion,
        engine: engineVersion,
        stage: stage.name,
        code: { files: code.files, packages: code.packages, version: stage.version ?? null },
        config: configured.canonical,
        inputs: identities,
        env: env as Record<string, string>,
        seed
      }
    },
    catch: asConfigError(`/${configured.node.id}/env`)
  })

/** The run-wide settings a stage instance reads (both when its stage does not say). */
const readsOf = (stage: AnyStage, config: unknown): ReadonlySet<RunSetting> =>
  new Set(typeof stage.reads === "function" ? stage.reads(config) : stage.reads ?? ["seed", "sanity"])

/** Turns a thrown exception inside a stage into its StageFailure (interruptions pass through). */
export const defectsAsFailures = (id: string) => <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.catchDefect(effect, (defect) =>
    Effect.fail(
      new StageFailure({
        stage: id,
        message: defect instanceof Error ? `${defect.name}: ${defect.message}` : String(defect),
        cause: defect
      })
    ))

/** `text` with every path in `places` (store paths a stage was given) replaced by what the user calls it. */
const userPaths = (places: ReadonlyArray<readonly [string, string]>) => (text: string): string =>
  [...places].sort((a, b) => b[0].length - a[0].length).reduce((out, [path, shown]) => out.replaceAll(path, shown), text)

/** Runs a pipeline graph, writing its run record; fails only for problems found before any stage ran. */
export const runPipeline = (
  options: RunOptions
): Effect.Effect<RunRecord, ConfigError | CodeDigestError | StoreError | PipelineShapeError, Store> =>
  Effect.scoped(Effect.gen(function*() {
    const store = yield* Store
    const { graph, reporter } = options
    yield* Effect.try({ try: () => validateGraph(graph), catch: (error) => error as PipelineShapeError })
    const runSeed = options.seed ?? graph.seed
    const configured = yield* configure(graph, options.overrides)
    const stages = stageNodes(graph)
    const executor = options.executor ?? local
    const resources = new Map<string, Resources>()
    for (const node of stages) resources.set(node.id, yield* resourcesOf(node.id, node.stage.resources, options.overrides))
    if (options.only !== undefined && !configured.has(options.only.id)) {
      return yield* new ConfigError({ path: options.only.id, message: `no stage instance "${options.only.id}"` })
    }
    for (const force of options.force) {
      if (!configured.has(force)) {
        return yield* new ConfigError({
          path: `--force ${force}`,
          message: `no stage instance "${force}" (instances: ${stages.map((n) => n.id).join(", ")})`
        })
      }
    }
    const code = new Map<string, StageCode>()
    const modules: ModuleCache = new Map()
    for (const node of stages) {
      code.set(node.id, yield* Effect.try({
        try: () => codeOf(node.stage.module, node.stage.extraCode, modules),
        catch: (error) =>
          error instanceof CodeDigestError
            ? error
            : new CodeDigestError({ file: node.stage.module, message: String(error) })
      }))
    }
    const changed = options.changedSinceLoad?.()
    if (changed !== undefined) {
      return yield* new CodeDigestError({ file: changed, message: "changed while the run was starting; run again" })
    }

    yield* store.pinning
    const startedAt = new Date()
    const runId = newRunId(startedAt)
    const byId = new Map(graph.nodes.map((node) => [node.id, node]))
    const progress = new Map<string, RunStage>(
      stages.map((node) => [node.id, { id: node.id, stage: node.stage.name, status: "pending" }])
    )
    const external: Array<RunRecord["external"][number]> = []
    const signs = makeWarningSigns()
    const warnings: Array<Warning> = []
    const repairs: Array<string> = []
    const record = (status: RunRecord["status"], error?: string): RunRecord => {
      const finished = status === "running" ? undefined : new Date()
      return {
        id: runId,
        owner: { pid: Owners.self.pid, host: Owners.self.host },
        pipeline: { name: graph.name, file: options.file },
        seed: runSeed,
        sanity: options.sanity,
        overrides: options.overrides.map((o) => o.text),
        force: [...options.force],
        status,
        startedAt: startedAt.toISOString(),
        ...(finished ? { finishedAt: finished.toISOString(), durationMs: finished.getTime() - startedAt.getTime() } : {}),
        external: [...external],
        stages: stages.map((node) => progress.get(node.id)!),
        warnings: [...warnings],
        ...(repairs.length === 0 ? {} : { repairs: [...repairs] }),
        ...(error === undefined ? {} : { error })
      }
    }
    const update = (id: string, patch: Partial<RunStage>) => progress.set(id, { ...progress.get(id)!, ...patch })
    /** A stage's scalars, reported and watched for warning signs (wherever the stage runs). */
    const scalarsOf = (id: string) => (step: number, values: Readonly<Record<string, number>>) => {
      reporter.event({ type: "scalars", id, step, values })
      for (const warning of signs.observe(id, step, values)) {
        warnings.push(warning)
        reporter.event({ type: "warning", warning })
      }
    }
    /** What the store found damaged and what was done about it: in the log and the run record. */
    const warn = (id: string, message: string) => {
      repairs.push(`${id}: ${message}`)
      reporter.event({ type: "log", id, message: `warning: ${message}` })
    }

    const saveRun = (run: RunRecord) => (options.only === undefined ? store.putDocument("runs", runId, run) : Effect.void)
    const damagedRuns = yield* store.checkDocuments("runs")
    yield* saveRun(record("running"))
    reporter.event({
      type: "start",
      runId,
      stages: stages.map((node) => node.id),
      configs: Object.fromEntries(stages.map((node) => [node.id, configured.get(node.id)!.config]))
    })
    for (const damage of damagedRuns) warn("store", `run record runs/${damage.id}.json: ${damage.message}`)
    const cache = yield* loadStatCache

    /** How the user names the artifact a handle carries: its path in the pipeline file, or `stage.output`. */
    const sourceName = (handle: Handle<ArtifactSpec>): string => {
      const source = byId.get(handle.node)
      return source?.kind === "file" || source?.kind === "dir" ? source.relPath : `${handle.node}.${handle.output}`
    }

    const effects = new Map<string, Effect.Effect<Outputs, NodeError, Store>>()
    const outputsOf = (node: string, output: string) =>
      effects.get(node)!.pipe(
        Effect.mapError(() => new UpstreamFailed({ node })),
        Effect.map((outputs) => outputs[output]!)
      )

    /**
     * The committed record of `key` if it decodes and every object it names is still what was written;
     * otherwise none, with what was wrong said (when `loud`) and the damaged part quarantined.
     */
    const lookup = (node: StageNode, key: Key, loud: boolean) =>
      Effect.gen(function*() {
        const say = (message: string) => (loud ? warn(node.id, `${message}; recomputing it`) : undefined)
        const document = yield* store.getDocument("stages", key).pipe(
          Effect.catchTag("CorruptDocument", (error) => Effect.sync(() => say(`its stage record ${error.message}`)).pipe(Effect.as(Option.none())))
        )
        if (Option.isNone(document)) return Option.none<StageRecord>()
        const decoded = decodeStageRecord(document.value)
        if (Exit.isFailure(decoded) || decoded.value.key !== key) {
          const reason = Exit.isFailure(decoded) ? `not a stage record (${Cause.pretty(decoded.cause).split("\n")[0]})` : "it names another key"
          yield* store.quarantineDocument("stages", key, reason)
          say(`its stage record stages/${key}.json is ${reason}; moved to quarantine/`)
          return Option.none<StageRecord>()
        }
        const found = decoded.value
        return yield* checkArtifacts(found.outputs).pipe(
          Effect.as(Option.some(found)),
          Effect.catchTag("DamagedArtifact", (damage) =>
            Effect.sync(() => say(`output ${damage.name}: ${damage.message}`)).pipe(Effect.as(Option.none<StageRecord>())))
        )
      })

    const execute = (
      node: StageNode,
      conf: ConfiguredStage,
      key: Key,
      manifest: KeyManifest,
      inputs: Readonly<Record<string, ArtifactRef | null>>
    ): Effect.Effect<StageRecord, NodeError, Store | Scope.Scope> => {
      // Store paths the stage was given, by what the user calls them, for its log and error messages.
      const places: Array<readonly [string, string]> = []
      const shown = userPaths(places)
      return Effect.gen(function*() {
        const stage = node.stage as AnyStage
        const started = Date.now()
        const tmpDir = yield* store.makeTmpDir
        const values = yield* readInputs(node, inputs)
        places.push([tmpDir, `(scratch of ${node.id})`])
        for (const [name, value] of Object.entries(values)) {
          const handle = node.inputs[name]
          if (value === undefined || handle === undefined) continue
          const given = value as Partial<BlobRef & FilesRef>
          if (typeof given.path === "string") places.push([given.path, sourceName(handle)])
          if (typeof given.dir === "string") places.push([given.dir, sourceName(handle)])
        }
        const failure = (message: string, cause?: unknown) => new StageFailure({ stage: node.id, message, cause })
        const reads = readsOf(stage, conf.config)
        // A setting the key does not hold must not change the outputs, so reading it fails.
        const setting = <A>(name: RunSetting, value: A): A => {
          if (!reads.has(name)) throw new Error(`ctx.${name} is read, but "${name}" is not in the stage's reads`)
          return value
        }
        const latest = store.latestCheckpoint(key).pipe(
          Effect.tap((found) =>
            Effect.sync(() => {
              const next = Option.match(found.checkpoint, {
                onNone: () => "starting from scratch",
                onSome: (checkpoint) => {
                  places.push([checkpoint.dir, `(checkpoint of step ${checkpoint.step})`])
                  return `resuming from the checkpoint of step ${checkpoint.step}`
                }
              })
              for (const discarded of found.discarded) warn(node.id, `${discarded.message}; ${next}`)
            })
          ),
          Effect.map((found) => found.checkpoint),
          Effect.mapError((e) => failure(`checkpoint: ${e.message}`, e))
        )
        const ctx: RunContext<unknown, Record<string, InputSpec>> = {
          config: conf.config,
          inputs: values as never,
          get seed() {
            return setting("seed", stageSeed(runSeed, node.id))
          },
          tmpDir,
          get sanity() {
            return setting("sanity", options.sanity)
          },
          workers: options.workers ?? availableParallelism(),
          batchSize: options.batchSize ?? defaultBatchSize,
          progress: (done, total) => reporter.event({ type: "progress", id: node.id, done, total }),
          log: (message) => reporter.event({ type: "log", id: node.id, message: shown(message) }),
          scalars: scalarsOf(node.id),
          checkpoints: {
            save: (step, dir) =>
              store.saveCheckpoint(key, step, dir).pipe(Effect.mapError((e) => failure(`checkpoint: ${e.message}`, e))),
            latest: () => latest
          }
        }
        const result = yield* Effect.suspend(() => stage.run(ctx)).pipe(defectsAsFailures(node.id))
        const produced = (result?.outputs ?? {}) as Record<string, unknown>
        for (const name of Object.keys(produced)) {
          if (!(name in stage.outputs)) {
            return yield* new OutputMismatch({ output: name, message: `stage ${stage.name} declares no such output` })
          }
        }
        const metrics = result?.metrics ?? {}
        for (const [name, value] of Object.entries(metrics)) {
          if (typeof value === "number" ? !Number.isFinite(value) : typeof value !== "string") {
            return yield* failure(`metric ${name}: expected a finite number or a string, got ${String(value)}`)
          }
        }
        const outputs: Record<string, ArtifactRef> = {}
        for (const [name, spec] of Object.entries(stage.outputs as Record<string, ArtifactSpec>)) {
          if (produced[name] === undefined) return yield* new OutputMismatch({ output: name, message: "not produced" })
          outputs[name] = yield* putOutput(name, spec, produced[name], tmpDir)
        }
        const stageRecord: StageRecord = {
          key,
          manifest,
          outputs,
          metrics: { ...metrics },
          durationMs: Date.now() - started,
          createdAt: new Date().toISOString()
        }
        yield* store.putDocument("stages", key, stageRecord)
        yield* store.clearCheckpoints(key)
        return stageRecord
      }).pipe(Effect.mapError((error): NodeError => {
        switch (error._tag) {
          case "StageFailure":
            return new StageFailure({ stage: error.stage, message: shown(error.message), cause: error.cause })
          case "OutputMismatch":
            return new OutputMismatch({ output: error.output, message: shown(error.message) })
          case "StoreError":
            return new StoreError({ method: error.method, key: shown(error.key), message: shown(error.message), cause: error.cause })
          default:
            return error
        }
      }))
    }

    /**
     * A stage's inputs, read and verified; an input found damaged (and quarantined) is produced
     * again by its upstream node, which must give the same digest, and all are read once more.
     */
    const readInputs = (node: StageNode, inputs: Readonly<Record<string, ArtifactRef | null>>) => {
      const specs = node.stage.inputs as Record<string, InputSpec>
      const attempt = (repairs: number): Effect.Effect<Record<string, unknown>, NodeError, Store | Scope.Scope> =>
        readArtifacts(specs, inputs).pipe(
          Effect.catchTag("DamagedArtifact", (damage) =>
            Effect.gen(function*() {
              const handle = node.inputs[damage.name]
              const expected = inputs[damage.name]
              if (repairs >= maxRepairs || handle === undefined || expected == null) return yield* damage
              warn(node.id, `input ${damage.name} (${sourceName(handle)}): ${damage.message}; producing it again`)
              const again = (yield* repair(handle.node))[handle.output]
              if (again?.digest !== expected.digest) {
                return yield* new StageFailure({
                  stage: node.id,
                  message: `input ${damage.name}: ${sourceName(handle)} now gives ${short(again?.digest ?? "nothing")} instead of ` +
                    `${short(expected.digest)}, which this run's keys were computed from` +
                    (byId.get(handle.node)?.kind === "stage" ? ` (stage ${handle.node} is not deterministic)` : " (the source changed)") +
                    "; run again"
                })
              }
              return yield* attempt(repairs + 1)
            })
          )
        )
      return attempt(0)
    }

    /** Produces a node's outputs again, ignoring what this run already took for them. */
    const repair = (id: string): Effect.Effect<Outputs, NodeError, Store> => {
      const node = byId.get(id)!
      return node.kind === "stage" ? produce(node) : importExternal(node, true)
    }

    /** A stage instance's outputs: from its committed record when sound, else computed. */
    const produce = (node: StageNode): Effect.Effect<Outputs, NodeError, Store> =>
      Effect.gen(function*() {
        const conf = configured.get(node.id)!
        const stage = node.stage as AnyStage
        const inputs: Record<string, ArtifactRef | null> = {}
        for (const name of Object.keys(stage.inputs)) {
          const handle = node.inputs[name]
          inputs[name] = handle === undefined ? null : yield* outputsOf(handle.node, handle.output)
        }
        const reads = readsOf(stage, conf.config)
        const seed = reads.has("seed") ? stageSeed(runSeed, node.id) : null
        const sanity = reads.has("sanity") ? options.sanity : null
        const manifest = yield* manifestOf(conf, code.get(node.id)!, inputs, seed, sanity)
        const key = keyOf(manifest)
        if (options.only?.id === node.id && options.only.key !== key) {
          return yield* new StageFailure({
            stage: node.id,
            message: `this job computed key ${key} where its driver computed ${options.only.key}: ` +
              "the job's machine sees other code, inputs or settings than the driver's"
          })
        }
        update(node.id, { key, manifest, inputs })
        const forced = options.force.includes(node.id)
        const hit = (found: StageRecord) => {
          // A stage this run recomputed (to repair an input of another) stays "ran".
          if (progress.get(node.id)!.status !== "ran") {
            update(node.id, { status: "hit", outputs: found.outputs, metrics: found.metrics, durationMs: 0 })
            reporter.event({ type: "state", id: node.id, state: "hit", key })
          }
          return found.outputs
        }
        const committed = (loud: boolean) => (forced ? Effect.succeed(Option.none<StageRecord>()) : lookup(node, key, loud))
        const first = yield* committed(true)
        if (Option.isSome(first)) return hit(first.value)
        reporter.event({ type: "state", id: node.id, state: "waiting", key })
        if (executor._tag === "Jobs") return yield* inJob(executor, node, key, forced)
        return yield* store.withLock(
          `stage.${key}`,
          Effect.gen(function*() {
            const again = yield* committed(false)
            if (Option.isSome(again)) return hit(again.value)
            // Whatever record is left (unreadable, damaged, or forced out) must not outlive this run.
            yield* store.deleteDocument("stages", key)
            // A forced stage starts from scratch: a checkpoint may hold what it is forced to redo.
            if (forced) yield* store.clearCheckpoints(key)
            // The run record is rewritten when a stage starts and when it commits, so a killed run's
            // record still names what it was doing and what it committed (for show, explain and gc).
            reporter.event({ type: "state", id: node.id, state: "running", key })
            update(node.id, { status: "running" })
            yield* saveRun(record("running"))
            const done = yield* Effect.scoped(execute(node, conf, key, manifest, inputs))
            update(node.id, { status: "ran", outputs: done.outputs, metrics: done.metrics, durationMs: done.durationMs })
            reporter.event({ type: "state", id: node.id, state: "done", key, durationMs: done.durationMs })
            yield* saveRun(record("running"))
            return done.outputs
          })
        )
      })

    /**
     * A stage computed by a job of the executor, which takes the stage's lock and commits its record
     * in the store; the outputs are then read from that record like a cache hit's.
     */
    const inJob = (jobs: Extract<Executor, { _tag: "Jobs" }>, node: StageNode, key: Key, forced: boolean) =>
      Effect.gen(function*() {
        reporter.event({ type: "state", id: node.id, state: "running", key })
        update(node.id, { status: "running" })
        yield* saveRun(record("running"))
        const started = Date.now()
        yield* jobs.run({
          id: node.id,
          key,
          forced,
          resources: resources.get(node.id)!,
          runId,
          log: (line) => reporter.event({ type: "log", id: node.id, message: line }),
          progress: (done, total) => reporter.event({ type: "progress", id: node.id, done, total }),
          scalars: scalarsOf(node.id)
        })
        const found = yield* lookup(node, key, true)
        if (Option.isNone(found)) {
          return yield* new StageFailure({ stage: node.id, message: `its ${jobs.name} job ended, but the store holds no sound record of key ${key}` })
        }
        const durationMs = Date.now() - started
        update(node.id, { status: "ran", outputs: found.value.outputs, metrics: found.value.metrics, durationMs })
        reporter.event({ type: "state", id: node.id, state: "done", key, durationMs })
        yield* saveRun(record("running"))
        return found.value.outputs
      })

    const stageEffect = (node: StageNode): Effect.Effect<Outputs, NodeError, Store> =>
      produce(node).pipe(
        Effect.tapError((error) =>
          Effect.sync(() => {
            const status = error._tag === "UpstreamFailed" ? "skipped" : "failed"
            const message = describeError(error)
            update(node.id, { status, error: message })
            reporter.event({ type: "state", id: node.id, state: status, error: message })
          })
        ),
        Effect.onInterrupt(() =>
          Effect.sync(() => {
            update(node.id, { status: "interrupted" })
            reporter.event({ type: "state", id: node.id, state: "interrupted" })
          })
        )
      )

    const importExternal = (node: Extract<PipelineNode, { kind: "file" | "dir" }>, rehash: boolean) => {
      const say = (message: string) => warn(node.id, message)
      return (node.kind === "file" ? importFile(cache, node.path, say, { rehash }) : importDir(cache, node.path, say, { rehash })).pipe(
        Effect.mapError((error) =>
          error._tag === "MissingInput" && node.name !== undefined
            ? new MissingInput({ path: error.path, message: `${error.message}; point input "${node.name}" elsewhere with --set ${node.name}.path=<path>` })
            : error
        ),
        Effect.tap((artifact) =>
          Effect.sync(() => {
            const index = external.findIndex((entry) => entry.id === node.id)
            if (index === -1) external.push({ id: node.id, path: node.path, artifact })
          })
        ),
        Effect.map((artifact): Outputs => ({ [node.kind]: artifact }))
      )
    }

    for (const node of graph.nodes) {
      const effect = node.kind === "stage" ? stageEffect(node) : importExternal(node, false)
      effects.set(node.id, yield* Effect.cached(effect))
    }

    const finish = (status: RunRecord["status"], error?: string) =>
      Effect.gen(function*() {
        yield* saveStatCache(cache).pipe(Effect.ignore)
        const final = record(status, error)
        yield* saveRun(final)
        reporter.close()
        return final
      })

    // A job computes its one stage; what it needs is computed (or found) on the way.
    const wanted = options.only === undefined ? graph.nodes : graph.nodes.filter((node) => node.id === options.only!.id)
    const exits = yield* Effect.all(wanted.map((node) => Effect.exit(effects.get(node.id)!)), {
      concurrency: "unbounded"
    }).pipe(Effect.onInterrupt(() => finish("interrupted").pipe(Effect.ignore)))

    const failures = exits.flatMap((exit, index) => {
      if (Exit.isSuccess(exit)) return []
      const error = Cause.findErrorOption(exit.cause)
      if (Option.isSome(error) && error.value._tag === "UpstreamFailed") return []
      const node = wanted[index]!
      return [`${node.id}: ${Option.isSome(error) ? describeError(error.value) : Cause.pretty(exit.cause)}`]
    })
    return yield* finish(failures.length === 0 ? "succeeded" : "failed", failures[0])
  }))
