/**
 * train: full fine-tuning of a Llama-family model on packed rows with the native engine, with the
 * hyper-parameters (names and defaults) of transformers' TrainingArguments.
 *
 * Each optimizer step sums the token losses of its micro-batches and divides by the trained tokens
 * of the whole step, so gradient accumulation gives the same update as one large batch. The data
 * order is a pure function of the seed, so a run resumed from a checkpoint continues bit for bit.
 * Outputs: the trained model as a Hugging Face directory, and the per-step log history.
 */
import { Effect, Option, Schema } from "effect"
import { copyFile, mkdir, readdir, rm } from "node:fs/promises"
import { join } from "node:path"
import { loadHfModel, parameterShapes, readHfConfig } from "../native/hfConfig.ts"
import { exportHfModel } from "../native/hfExport.ts"
import { engineFacts, NativeModel, resolveBackend } from "../native/index.ts"
import { kernelBuildDigest } from "../native/kernels.ts"
import { numel } from "../native/safetensors.ts"
import { initWeights } from "../native/init.ts"
import { defineStage, Files, Optional, StageFailure, StreamedTable, Table, withDefault } from "../src/index.ts"
import { packedSchema } from "./schemas/packed.ts"
import { planSteps, stepsPerEpoch } from "./train/batches.ts"
import { readCheckpoint, writeCheckpoint } from "./train/checkpoint.ts"
import { checkpointName, checkpointStep, improves, removeHfCheckpoint, rotate, writeHfCheckpoint } from "./train/hfCheckpoint.ts"
import type { Best } from "./train/hfCheckpoint.ts"
import { historySchema, historyTable } from "./train/history.ts"
import { PackedSource } from "./train/packedSource.ts"
import type { HistoryRow } from "./train/history.ts"
import { defaultLearningRate, lrFactor, schedulerTypes, warmupSteps } from "./train/schedule.ts"
import { score, validationBatches } from "./train/validation.ts"

const positive = Schema.Finite.check(Schema.isGreaterThan(0))
const nonNegative = Schema.Finite.check(Schema.isGreaterThanOrEqualTo(0))
const count = Schema.Int.check(Schema.isGreaterThanOrEqualTo(1))
export const TrainConfig = Schema.Struct({
  /** Start from weights initialised with the stage seed (the model directory needs only config.json). */
  fromScratch: Schema.Boolean.pipe(withDefault(false)),
  /** Absent: the TRL chapter's starting point for the model's size (see {@link defaultLearningRate}). */
  learningRate: Schema.optionalKey(positive),
  numTrainEpochs: count.pipe(withDefault(3)),
  /** Total optimizer steps; overrides `numTrainEpochs` (the data repeats as often as needed). */
  maxSteps: Schema.optionalKey(count),
  perDeviceTrainBatchSize: count.pipe(withDefault(8)),
  perDeviceEvalBatchSize: count.pipe(withDefault(8)),
  gradientAccumulationSteps: count.pipe(withDefault(1)),
  warmupRatio: Schema.Finite.check(Schema.isBetween({ minimum: 0, maximum: 1 })).pipe(withDefault(0)),
  /** Warm-up steps; overrides `warmupRatio`. */
  warmupSteps: Schema.optionalKey(Schema.Int.check(Schema.isGreaterThanOrEqualTo(0))),
  lrSchedulerType: Schema.Literals(schedulerTypes).pipe(withDefault("linear")),
  weightDecay: nonNegative.pipe(withDefault(0)),
  maxGradNorm: nonNegative.pipe(withDefault(1)),
  adamBeta1: nonNegative.pipe(withDefault(0.9)),
  adamBeta2: nonNegative.pipe(withDefault(0.999)),
  adamEpsilon: positive.pipe(withDefault(1e-8)),
  /** Evaluate on the validation rows every N steps (and always at the end when they are wired). */
  evalSteps: Schema.optionalKey(count),
  /** Also evaluate, and save `checkpoint-0`, before the first step: the model before training. */
  evalOnStart: Schema.Boolean.pipe(withDefault(false)),
  /** Save a Hugging Face checkpoint (and a resumable state) every N steps; the last step is always saved. */
  saveSteps: count.pipe(withDefault(500)),
  /** Keep at most this many checkpoints, deleting the oldest but never the newest or the best. */
  saveTotalLimit: Schema.optionalKey(count),
  /** The `model` output is the best checkpoint's weights instead of the last step's. */
  loadBestModelAtEnd: Schema.Boolean.pipe(withDefault(false)),
  /** What "best" means for train: its validation loss (`loss` is transformers' alias). */
  metricForBestModel: Schema.Literals(["eval_loss", "loss"]).pipe(withDefault("eval_loss")),
  greaterIsBetter: Schema.Boolean.pipe(withDefault(false)),
  /** Recompute activations in backward (gradient checkpointing): same bits, less memory. */
  gradientCheckpointing: Schema.Boolean.pipe(withDefault(false)),
  /** The CLI logs a line of scalars every N steps (and the first and last); TRL's SFTConfig default. Not in the key. */
  loggingSteps: count.pipe(withDefault(10)),
  /** Worker threads (default: every core); not in the key, since results do not depend on it. */
  threads: Schema.optionalKey(count),
  /**
   * Where to train: cpu, cuda, or auto (cuda when it can run here, else cpu, and the log says why).
   * Not in the key as written: the backend it resolves to is (an env fact), so auto and cpu share a cache.
   */
  backend: Schema.Literals(["cpu", "cuda", "auto"]).pipe(withDefault("auto")),
  /** bf16 mixed precision on cuda (fp32 master weights and moments). The key holds the dtype it gives. */
  bf16: Schema.Boolean.pipe(withDefault(false)),
  /** Steps of a `--sanity` run. */
  sanitySteps: count.pipe(withDefault(20))
})
export type TrainConfig = typeof TrainConfig.Type

// Config fields that cannot change what train writes, or that enter the key through env instead.
const unkeyed: ReadonlyArray<string> = ["threads", "loggingSteps", "backend", "bf16"]

// The backend and dtype a config trains with on this machine.
const placement = (config: TrainConfig) => {
  const resolved = resolveBackend(config.backend)
  const dtype = resolved.backend === "cuda" && config.bf16 ? "bfloat16" : "float32"
  return { ...resolved, dtype }
}

const failure = (message: string, cause?: unknown) => new StageFailure({ stage: "train", message, cause })

// The weights and model config, which the export writes anew; every other file of the model
// directory (tokenizer files, generation_config.json) is copied beside the trained weights.
const weightFile = /^(config\.json|.*\.safetensors|model\.safetensors\.index\.json)$/

const engine = <A>(what: string, f: () => Promise<A>) =>
  Effect.tryPromise({ try: f, catch: (cause) => failure(`${what}: ${(cause as Error).message}`, cause) })

// Making the model can fail for reasons of the machine (a backend that cannot run here).
const open = (f: () => NativeModel) => Effect.try({ try: f, catch: (cause) => failure((cause as Error).message, cause) })

export const train = defineStage({
  name: "train",
  module: import.meta.url,
  reads: ["seed", "sanity"],
  extraCode: ["../native/cpu", "../native/model", "../native/cuda", "../native/binding", "../native/addon.cc", "../native/binding.gyp"],
  config: TrainConfig,
  unkeyed,
  inputs: { train: StreamedTable(packedSchema), validation: Optional(Table(packedSchema)), model: Files() },
  outputs: { model: Files(), checkpoints: Files(), history: Table(historySchema) },
  // The kernel build (the AOT manifest's digest) decides the bits of a cuda run, as the addon's do of a cpu run.
  env: (config) => {
    const { backend, dtype } = placement(config)
    return { backend, dtype, ...engineFacts(), ...(backend === "cuda" ? { kernels: kernelBuildDigest() } : {}) }
  },
  run: (ctx) =>
    Effect.gen(function*() {
      const { config } = ctx
      const dir = ctx.inputs.model.dir
      const hf = yield* readHfConfig(dir)
      // Weights are read (or drawn) only when no checkpoint replaces them: a model can be gigabytes.
      const initialWeights = config.fromScratch
        ? Effect.sync(() => {
          const range = typeof hf.json.initializer_range === "number" ? hf.json.initializer_range : 0.02
          return initWeights(hf.config, { seed: ctx.seed, initializerRange: range })
        })
        : loadHfModel(dir).pipe(Effect.map((model) => model.weights))
      const place = placement(config)
      if (place.fallback !== undefined) ctx.log(`backend auto: training on cpu; ${place.fallback}`)
      if (config.bf16 && place.backend === "cpu") {
        if (config.backend === "cpu") {
          return yield* Effect.fail(failure("bf16 mixed precision runs on the cuda backend: set backend to cuda or auto, or bf16 to false"))
        }
        ctx.log("bf16 applies on cuda only: this run trains in float32")
      }
      const options = {
        backend: place.backend,
        recompute: config.gradientCheckpointing,
        ...(config.threads === undefined ? {} : { threads: config.threads })
      }
      const parameters = Object.values(parameterShapes(hf.config)).reduce((n, shape) => n + numel(shape), 0)
      const learningRate = config.learningRate ?? defaultLearningRate(parameters)
      if (config.learningRate === undefined) {
        ctx.log(`learningRate not set: ${learningRate} for ${(parameters / 1e6).toFixed(1)}M parameters (TRL chapter, section 2.1)`)
      }

      // The train rows are read from the stored table as steps need them, not held in memory.
      const table = yield* Effect.acquireRelease(
        Effect.tryPromise({ try: () => PackedSource.open(ctx.inputs.train), catch: (cause) => failure(`reading the train table: ${String(cause)}`) }),
        (source) => Effect.promise(() => source.close())
      )
      if (table.numRows === 0) {
        return yield* Effect.fail(failure(
          "the train table has no rows: upstream, every example was dropped or had no trained token (pipeline show <run> " +
            "lists tokenize's droppedTooLong and skippedNoTrainedTokens; pipeline inspect <run> tokenize shows the masks)"
        ))
      }
      const accumulation = config.gradientAccumulationSteps
      const plan = planSteps(table.numRows, {
        epochs: config.numTrainEpochs,
        maxSteps: config.maxSteps,
        batchSize: config.perDeviceTrainBatchSize,
        accumulation,
        seed: ctx.seed
      })
      const total = ctx.sanity ? Math.min(config.sanitySteps, plan.length) : plan.length
      const warmup = warmupSteps(config.warmupRatio, total, config.warmupSteps)
      const perEpoch = stepsPerEpoch(table.numRows, config.perDeviceTrainBatchSize, accumulation)
      ctx.log(
        `${table.numRows} packed rows, effective batch ${config.perDeviceTrainBatchSize * accumulation} rows ` +
          `(${config.perDeviceTrainBatchSize} per micro-batch × ${accumulation} accumulated), ` +
          `${total} optimizer steps (${(total / perEpoch).toFixed(2)} epochs), ${warmup} warm-up`
      )
      const evalBatches = ctx.inputs.validation === undefined ? [] : validationBatches(ctx.inputs.validation, config.perDeviceEvalBatchSize)
      if (config.loadBestModelAtEnd && evalBatches.length === 0) {
        return yield* Effect.fail(failure("loadBestModelAtEnd needs validation rows: wire the validation input"))
      }
      if (config.loadBestModelAtEnd && config.evalSteps !== undefined && config.saveSteps % config.evalSteps !== 0) {
        return yield* Effect.fail(failure(`loadBestModelAtEnd needs saveSteps (${config.saveSteps}) to be a multiple of evalSteps (${config.evalSteps}), so every checkpoint is scored`))
      }
      // The mean validation loss, or null when the rows score no token.
      const evalLoss = (model: NativeModel) =>
        engine("evaluation failed", () => score(model, evalBatches)).pipe(
          Effect.map((s) => s.tokens === 0 ? null : s.lossSum / s.tokens)
        )

      const kept = join(ctx.tmpDir, "checkpoints")
      yield* Effect.promise(() => mkdir(kept))
      const resumed = yield* ctx.checkpoints.latest()
      let model: NativeModel
      let history: Array<HistoryRow> = []
      let best: Best | undefined
      if (Option.isSome(resumed)) {
        const checkpoint = yield* readCheckpoint(resumed.value.dir, kept)
        model = yield* open(() => NativeModel.restore(hf.config, checkpoint.state, options))
        history = [...checkpoint.progress.history]
        best = checkpoint.progress.best
        ctx.log(`resumed from the checkpoint of step ${checkpoint.state.step}`)
      } else {
        const weights = yield* initialWeights
        model = yield* open(() => NativeModel.create(hf.config, weights, options))
      }
      const greater = config.greaterIsBetter
      // What shaped the weights: the config with the rate used, without the unkeyed fields (which cannot).
      const args = Object.fromEntries(Object.entries({ ...config, learningRate }).filter(([name]) => !unkeyed.includes(name)))
      const saveCheckpoint = (step: number) =>
        Effect.gen(function*() {
          yield* writeHfCheckpoint(kept, hf, model.weights(), { globalStep: step, epoch: step / perEpoch, maxSteps: total, best, history, args })
          const steps = (yield* Effect.promise(() => readdir(kept))).flatMap((name) => checkpointStep(name) ?? [])
          for (const old of rotate(steps, config.saveTotalLimit, best?.step)) yield* removeHfCheckpoint(kept, old)
        })

      if (Option.isNone(resumed) && config.evalOnStart) {
        const before = yield* evalLoss(model)
        if (before !== null) {
          best = { step: 0, metric: before }
          ctx.scalars(0, { "eval/loss": before, "eval/perplexity": Math.exp(before) })
        }
        yield* saveCheckpoint(0)
      }

      const started = performance.now()
      let trainedTokens = 0
      for (let step = model.stepCount; step < total; step++) {
        const stepStarted = performance.now()
        const lr = learningRate * lrFactor(config.lrSchedulerType, step, total, warmup)
        const result = yield* engine(`training failed at step ${step + 1}`, async () => {
          let lossSum = 0
          let tokens = 0
          let seen = 0
          for (const rows of plan[step]!) {
            const batch = await table.batch(rows)
            const micro = await model.accumulate(batch)
            lossSum += micro.lossSum
            tokens += micro.tokens
            seen += batch.inputIds.length
          }
          if (tokens === 0) throw new Error(`step ${step + 1} has no trained tokens`)
          const { gradNorm } = await model.step(tokens, {
            lr,
            beta1: config.adamBeta1,
            beta2: config.adamBeta2,
            eps: config.adamEpsilon,
            weightDecay: config.weightDecay,
            maxGradNorm: config.maxGradNorm
          })
          return { loss: lossSum / tokens, tokens, seen, gradNorm }
        })
        trainedTokens += result.tokens
        const now = performance.now()
        const done = step + 1
        const evalNow = evalBatches.length > 0 && (done === total || (config.evalSteps !== undefined && done % config.evalSteps === 0))
        const row: HistoryRow = {
          step: done,
          epoch: done / perEpoch,
          loss: result.loss,
          learning_rate: lr,
          grad_norm: result.gradNorm,
          trained_tokens: result.tokens,
          eval_loss: evalNow ? yield* evalLoss(model) : null
        }
        history.push(row)
        if (row.eval_loss !== null && improves(row.eval_loss, best, greater)) best = { step: done, metric: row.eval_loss }
        ctx.scalars(done, {
          "train/loss": row.loss,
          "train/learning_rate": lr,
          "train/grad_norm": row.grad_norm,
          "train/tokens_per_second": result.seen / Math.max(1e-9, (now - stepStarted) / 1000),
          "train/memory_mib": process.memoryUsage.rss() / 2 ** 20,
          ...(row.eval_loss === null ? {} : { "eval/loss": row.eval_loss, "eval/perplexity": Math.exp(row.eval_loss) })
        })
        ctx.progress(done, total)
        if (done === total || done % config.saveSteps === 0) yield* saveCheckpoint(done)
        if (done < total && done % config.saveSteps === 0) {
          const resumeDir = join(ctx.tmpDir, `resume-${done}`)
          yield* Effect.promise(() => mkdir(resumeDir))
          yield* writeCheckpoint(resumeDir, model.saveState(), { history, best }, kept)
          yield* ctx.checkpoints.save(done, resumeDir)
          yield* Effect.promise(() => rm(resumeDir, { recursive: true }))
        }
      }
      const seconds = (performance.now() - started) / 1000

      const out = join(ctx.tmpDir, "model")
      yield* Effect.tryPromise({
        try: async () => {
          await mkdir(out)
          for (const name of await readdir(dir)) if (!weightFile.test(name)) await copyFile(join(dir, name), join(out, name))
        },
        catch: (cause) => failure(`cannot copy the tokenizer files of ${dir}`, cause)
      })
      const loadBest = config.loadBestModelAtEnd && best !== undefined
      if (loadBest) {
        ctx.log(`loading the best model: ${checkpointName(best!.step)} (${config.metricForBestModel} ${best!.metric.toFixed(4)})`)
        yield* Effect.promise(async () => {
          for (const name of ["config.json", "model.safetensors"]) await copyFile(join(kept, checkpointName(best!.step), name), join(out, name))
        })
      } else {
        yield* exportHfModel(out, hf, model.weights())
      }

      const finalEval = history.findLast((r) => r.eval_loss !== null)?.eval_loss
      return {
        outputs: { model: { dir: out }, checkpoints: { dir: kept }, history: historyTable(history) },
        metrics: {
          steps: history.length,
          firstLoss: history[0]!.loss,
          trainLoss: history.at(-1)!.loss,
          ...(finalEval == null ? {} : { evalLoss: finalEval }),
          ...(best === undefined ? {} : { bestCheckpoint: checkpointName(best.step), bestMetric: best.metric }),
          trainedTokensPerSecond: seconds > 0 ? Math.round(trainedTokens / seconds) : 0,
          peakRssMiB: Math.round(process.resourceUsage().maxRSS / 1024)
        }
      }
    }).pipe(Effect.mapError((error) => error instanceof StageFailure ? error : failure(error.message, error))),
  // The log history, like the Trainer's log lines: the first `rows` steps and the last one.
  inspect: (ctx) =>
    Effect.sync(() => {
      const history = ctx.outputs.history.toArray().map((row) => row.toJSON() as HistoryRow)
      const shown = history.length <= ctx.rows ? history : [...history.slice(0, ctx.rows), history.at(-1)!]
      const cell = (value: number | null, digits: number) => value === null ? "" : value.toFixed(digits)
      const lines = shown.map((r) =>
        [String(r.step).padStart(5), cell(r.epoch, 2).padStart(6), cell(r.loss, 4).padStart(8), r.learning_rate.toExponential(3).padStart(10),
          cell(r.grad_norm, 3).padStart(9), String(r.trained_tokens).padStart(7), cell(r.eval_loss, 4).padStart(9)].join("  ")
      )
      const skipped = history.length - shown.length
      return [
        " step   epoch      loss          lr  grad_norm   tokens  eval_loss",
        ...lines.slice(0, ctx.rows),
        ...(skipped > 0 ? [`  … ${skipped} steps …`] : []),
        ...lines.slice(ctx.rows),
        lossVerdict(history.map((r) => r.loss))
      ].join("\n")
    })
})

/**
 * The sanity check's question: did the loss go down? The mean of the last three steps against the
 * first step, so one noisy last step does not decide it.
 */
export const lossVerdict = (losses: ReadonlyArray<number>): string => {
  const first = losses[0]!
  const tail = losses.slice(-3)
  const last = tail.reduce((a, b) => a + b, 0) / tail.length
  const trajectory = `loss ${first.toFixed(4)} → ${last.toFixed(4)} over ${losses.length} steps`
  return losses.length >= 2 && last < first
    ? `PASS ${trajectory}: decreasing`
    : `WARN ${trajectory}: not decreasing; check the learning rate (raise it 2x if the loss is flat after warm-up) and the masks (pipeline inspect <run> tokenize)`
}
