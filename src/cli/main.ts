/**
 * The `pipeline` command line. bin/pipeline.js runs this file from its bundle (see Bundle.js).
 */
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Argument from "effect/cli/Argument"
import * as Command from "effect/cli/Command"
import * as Flag from "effect/cli/Flag"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as NodeServices from "@effect/platform-node/NodeServices"
import { check } from "./commands/check.ts"
import { diff } from "./commands/diff.ts"
import { explain } from "./commands/explain.ts"
import { exportOutputs } from "./commands/export.ts"
import { gc } from "./commands/gc.ts"
import { inspect } from "./commands/inspect.ts"
import { ls } from "./commands/ls.ts"
import { run } from "./commands/run.ts"
import { show } from "./commands/show.ts"
import { stageJob } from "./commands/stageJob.ts"
import { verify } from "./commands/verify.ts"
import { storeLayer } from "./StoreLayer.ts"
import { reportErrors } from "./UserError.ts"

const store = Flag.String("store").pipe(
  Flag.withDescription("store directory, or s3://bucket/prefix for a shared one (default: $PIPELINE_STORE, else .pipeline)"),
  Flag.optional
)
const cache = Flag.String("cache").pipe(
  Flag.withDescription("local cache of an s3:// store (default: .pipeline/cache/s3/<bucket>/<prefix>)"),
  Flag.optional
)
const workers = Flag.Int("workers").pipe(
  Flag.withDescription("worker threads per data stage (default: the machine's cores); outputs do not depend on it"),
  Flag.optional
)
const batchSize = Flag.Int("batch-size").pipe(
  Flag.withDescription("rows a data stage holds at once (default 10000); bounds memory, outputs do not depend on it"),
  Flag.optional
)
/** The flags both `run` and `stage-job` take (PipelineSettings.ts), as plain values. */
const pipelineSettings = (args: {
  readonly file: string
  readonly set: ReadonlyArray<string>
  readonly seed: Option.Option<number>
  readonly sanity: boolean
  readonly workers: Option.Option<number>
  readonly batchSize: Option.Option<number>
}) => ({
  file: args.file,
  set: args.set,
  seed: Option.getOrUndefined(args.seed),
  sanity: args.sanity,
  workers: Option.getOrUndefined(args.workers),
  batchSize: Option.getOrUndefined(args.batchSize)
})
const json = Flag.Boolean("json").pipe(Flag.withDescription("machine-readable output"), Flag.withDefault(false))
const runRef = (name: string) =>
  Argument.String(name).pipe(Argument.withDescription("run id, unique id prefix, last or last~N"))

const withStore = <E extends { readonly _tag: string; readonly message: string }, R>(
  flags: { readonly store: Option.Option<string>; readonly cache: Option.Option<string> },
  effect: Effect.Effect<void, E, R>,
  options: { readonly cacheOnly?: boolean } = {}
) =>
  reportErrors(
    effect.pipe(Effect.provide(storeLayer({ store: Option.getOrUndefined(flags.store), cache: Option.getOrUndefined(flags.cache) }, options)))
  ) as Effect.Effect<
    void,
    never,
    Exclude<R, import("../store/Store.ts").Store>
  >

const runCommand = Command.make(
  "run",
  {
    file: Argument.String("file").pipe(Argument.withDescription("pipeline file (.ts)")),
    set: Flag.String("set").pipe(
      Flag.withDescription("override a config value: instance.key=value (JSON, else a string)"),
      Flag.atLeast(0)
    ),
    seed: Flag.Int("seed").pipe(Flag.withDescription("run seed (default: the pipeline's)"), Flag.optional),
    sanity: Flag.Boolean("sanity").pipe(Flag.withDescription("short smoke run; part of every key"), Flag.withDefault(false)),
    force: Flag.String("force").pipe(
      Flag.withDescription("recompute this stage instance from scratch (its record and checkpoints ignored)"),
      Flag.atLeast(0)
    ),
    workers,
    batchSize,
    executor: Flag.Literals("executor", ["local", "slurm"]).pipe(
      Flag.withDescription("where stages are computed: in this process, or each as a Slurm job against the shared store"),
      Flag.withDefault("local")
    ),
    pendingTimeout: Flag.Int("pending-timeout").pipe(
      Flag.withDescription("seconds a Slurm job may stay pending before the run gives up on it"),
      Flag.withDefault(3600)
    ),
    store,
    cache
  },
  (args) =>
    withStore(args, run({
      ...pipelineSettings(args),
      force: args.force,
      store: Option.getOrUndefined(args.store),
      cache: Option.getOrUndefined(args.cache),
      executor: args.executor,
      pendingTimeoutS: args.pendingTimeout
    }))
).pipe(Command.withDescription("run a pipeline, reusing every cached stage"))

const stageJobCommand = Command.make(
  "stage-job",
  {
    file: Argument.String("file").pipe(Argument.withDescription("pipeline file (.ts)")),
    stage: Flag.String("stage").pipe(Flag.withDescription("the stage instance to compute")),
    key: Flag.String("key").pipe(Flag.withDescription("its key as the driver computed it")),
    set: Flag.String("set").pipe(Flag.withDescription("the driver's overrides"), Flag.atLeast(0)),
    seed: Flag.Int("seed").pipe(Flag.withDescription("the driver's run seed"), Flag.optional),
    sanity: Flag.Boolean("sanity").pipe(Flag.withDescription("the driver's --sanity"), Flag.withDefault(false)),
    force: Flag.Boolean("force").pipe(Flag.withDescription("the driver forces this stage"), Flag.withDefault(false)),
    workers,
    batchSize,
    events: Flag.String("events").pipe(Flag.withDescription("file the stage's log, progress and scalars are appended to, for the driver")),
    store,
    cache
  },
  (args) =>
    withStore(args, stageJob({
      ...pipelineSettings(args),
      stage: args.stage,
      key: args.key,
      force: args.force,
      events: args.events
    }))
).pipe(Command.withDescription("internal: the job --executor slurm submits for one stage"))

const checkCommand = Command.make(
  "check",
  { file: Argument.String("file").pipe(Argument.withDescription("pipeline file (.ts)")) },
  (args) => reportErrors(check(args.file))
).pipe(Command.withDescription("type-check a pipeline file and validate its graph and configs without running it"))

const lsCommand = Command.make("ls", { json, store, cache }, (args) => withStore(args, ls(args.json))).pipe(
  Command.withDescription("list runs, newest first")
)

const showCommand = Command.make("show", { run: runRef("run"), json, store, cache }, (args) =>
  withStore(args, show(args.run, args.json))).pipe(Command.withDescription("show one run stage by stage"))

const explainCommand = Command.make("explain", { a: runRef("a"), b: runRef("b"), json, store, cache }, (args) =>
  withStore(args, explain(args.a, args.b, args.json))).pipe(
    Command.withDescription("say why each stage's key differs between two runs")
  )

const diffCommand = Command.make("diff", { a: runRef("a"), b: runRef("b"), json, store, cache }, (args) =>
  withStore(args, diff(args.a, args.b, args.json))).pipe(
    Command.withDescription("compare two runs stage by stage (hits, keys, metric deltas)")
  )

const inspectCommand = Command.make(
  "inspect",
  {
    run: runRef("run"),
    stage: Argument.String("stage").pipe(Argument.withDescription("stage instance name")),
    rows: Flag.Int("rows").pipe(Flag.withDescription("rows to show"), Flag.withDefault(5)),
    store,
    cache
  },
  (args) => withStore(args, inspect(args.run, args.stage, args.rows))
).pipe(Command.withDescription("show a finished stage through its own inspect view"))

const exportCommand = Command.make(
  "export",
  {
    run: runRef("run"),
    dir: Argument.String("dir").pipe(Argument.withDescription("directory to write (created; must be empty unless --force)")),
    stage: Flag.String("stage").pipe(Flag.withDescription("stage instance whose outputs to export"), Flag.withDefault("export")),
    force: Flag.Boolean("force").pipe(Flag.withDescription("replace what the directory holds"), Flag.withDefault(false)),
    store,
    cache
  },
  (args) => withStore(args, exportOutputs({ run: args.run, dir: args.dir, stage: args.stage, force: args.force }))
).pipe(Command.withDescription("copy a finished stage's outputs to a directory, verifying every byte"))

const reportCommand = Command.make(
  "report",
  {
    runs: runRef("run").pipe(Argument.atLeast(1)),
    output: Flag.String("output").pipe(
      Flag.withAlias("o"),
      Flag.withDescription("the HTML file to write"),
      Flag.withDefault("report.html")
    ),
    store,
    cache
  },
  (args) =>
    withStore(
      args,
      // Imported here, not above: only this command needs the chart assets and the event-file decoder.
      Effect.promise(() => import("./commands/report.ts")).pipe(Effect.flatMap(({ report }) => report(args.runs, args.output)))
    )
).pipe(Command.withDescription("write one self-contained HTML page of runs: curves overlaid, stages, config, differences, warnings"))

const verifyCommand = Command.make("verify", { store, cache }, (args) => withStore(args, verify, { cacheOnly: true })).pipe(
  Command.withDescription("re-hash every object, check every record and checkpoint; quarantine what is damaged")
)

const gcCommand = Command.make(
  "gc",
  {
    keep: Flag.Int("keep").pipe(Flag.withDescription("keep the newest N runs (default: all)"), Flag.optional),
    dryRun: Flag.Boolean("dry-run").pipe(Flag.withDescription("only print what would go"), Flag.withDefault(false)),
    store,
    cache
  },
  (args) => withStore(args, gc(Option.getOrUndefined(args.keep), args.dryRun), { cacheOnly: true })
).pipe(Command.withDescription("delete runs beyond --keep and every object no kept run references (safe during runs)"))

const pipeline = Command.make("pipeline").pipe(
  Command.withDescription("typed DAG of cached, content-addressed stages"),
  Command.withSubcommands([
    runCommand,
    checkCommand,
    lsCommand,
    showCommand,
    explainCommand,
    diffCommand,
    inspectCommand,
    exportCommand,
    reportCommand,
    verifyCommand,
    gcCommand,
    stageJobCommand
  ])
)

pipeline.pipe(
  Command.run({ version: "0.1.0" }),
  Effect.provide(NodeServices.layer),
  NodeRuntime.runMain
)
