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
import { copyFile, mkdir, readdir } from "node:fs/promises"
import { join } from "node:path"
import { loadHfModel, parameterShapes, readHfConfig } from "../native/hfConfig.ts"
import { exportHfModel } from "../native/hfExport.ts"
import { engineFacts, NativeModel } from "../native/index.ts"
import { numel } from "../native/safetensors.ts"
import type { Batch } from "../native/index.ts"
import { initWeights } from "../native/init.ts"
import { defineStage, Files, Optional, StageFailure, Table, withDefault } from "../src/index.ts"
import { packedSchema } from "./schemas/packed.ts"
import { makeBatch, planSteps, readPackedRows, stepsPerEpoch } from "./train/batches.ts"
import { readCheckpoint, writeCheckpoint } from "./train/checkpoint.ts"
import { historySchema, historyTable } from "./train/history.ts"
import type { HistoryRow } from "./train/history.ts"
import { defaultLearningRate, lrFactor, schedulerTypes, warmupSteps } from "./train/schedule.ts"

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
  /** Save a resumable checkpoint every N steps. */
  saveSteps: Schema.optionalKey(count),
  /** Recompute activations in backward (gradient checkpointing): same bits, less memory. */
  gradientCheckpointing: Schema.Boolean.pipe(withDefault(false)),
  /** Write a log line every N steps (and at the first and last); TRL's SFTConfig default. */
  loggingSteps: count.pipe(withDefault(10)),
  /** Worker threads (default: every core); not in the key, since results do not depend on it. */
  threads: Schema.optionalKey(count),
  /** Steps of a `--sanity` run. */
  sanitySteps: count.pipe(withDefault(20))
})
export type TrainConfig = typeof TrainConfig.Type

const failure = (message: string, cause?: unknown) => new StageFailure({ stage: "train", message, cause })

// The weights and model config, which the export writes anew; every other file of the model
// directory (tokenizer files, generation_config.json) is copied beside the trained weights.
const weightFile = /^(config\.json|.*\.safetensors|model\.safetensors\.index\.json)$/

/** The mean token loss over `batches` (null when they score no token), without gradients. */
const evaluate = (model: NativeModel, batches: ReadonlyArray<Batch>) =>
  Effect.tryPromise({
    try: async () => {
      let lossSum = 0
      let tokens = 0
      for (const batch of batches) {
        const result = await model.evalLoss(batch)
        lossSum += result.lossSum
        tokens += result.tokens
      }
      return tokens === 0 ? null : lossSum / tokens
    },
    catch: (cause) => failure(`evaluation failed: ${(cause as Error).message}`, cause)
  })

export const train = defineStage({
  name: "train",
  module: import.meta.url,
  reads: ["seed", "sanity"],
  extraCode: ["../native/cpu", "../native/binding", "../native/addon.cc", "../native/binding.gyp"],
  config: TrainConfig,
  unkeyed: ["threads"],
  inputs: { train: Table(packedSchema), validation: Optional(Table(packedSchema)), model: Files() },
  outputs: { model: Files(), history: Table(historySchema) },
  env: () => ({ backend: "cpu", dtype: "float32", ...engineFacts() }),
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
      const options = { recompute: config.gradientCheckpointing, ...(config.threads === undefined ? {} : { threads: config.threads }) }
      const parameters = Object.values(parameterShapes(hf.config)).reduce((n, shape) => n + numel(shape), 0)
      const learningRate = config.learningRate ?? defaultLearningRate(parameters)
      if (config.learningRate === undefined) {
        ctx.log(`learningRate not set: ${learningRate} for ${(parameters / 1e6).toFixed(1)}M parameters (TRL chapter, section 2.1)`)
      }

      const table = ctx.inputs.train
      if (table.numRows === 0) return yield* Effect.fail(failure("the train table has no rows"))
      const trainRows = readPackedRows(table)
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
      const validation = ctx.inputs.validation
      const evalBatches: Array<Batch> = []
      if (validation !== undefined) {
        const validationRows = readPackedRows(validation)
        for (let i = 0; i < validation.numRows; i += config.perDeviceEvalBatchSize) {
          const end = Math.min(i + config.perDeviceEvalBatchSize, validation.numRows)
          evalBatches.push(makeBatch(validationRows, Array.from({ length: end - i }, (_, k) => i + k)))
        }
      }

      const resumed = yield* ctx.checkpoints.latest()
      let model: NativeModel
      let history: Array<HistoryRow> = []
      if (Option.isSome(resumed)) {
        const checkpoint = yield* readCheckpoint(resumed.value.dir)
        model = NativeModel.restore(hf.config, checkpoint.state, options)
        history = [...checkpoint.history]
        ctx.log(`resumed from the checkpoint of step ${checkpoint.state.step}`)
      } else {
        model = NativeModel.create(hf.config, yield* initialWeights, options)
      }

      const started = performance.now()
      let trainedTokens = 0
      let stepStarted = started
      for (let step = model.stepCount; step < total; step++) {
        const lr = learningRate * lrFactor(config.lrSchedulerType, step, total, warmup)
        const result = yield* Effect.tryPromise({
          try: async () => {
            let lossSum = 0
            let tokens = 0
            let seen = 0
            for (const rows of plan[step]!) {
              const batch = makeBatch(trainRows, rows)
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
          },
          catch: (cause) => failure(`training failed at step ${step + 1}: ${(cause as Error).message}`, cause)
        })
        trainedTokens += result.tokens
        const done = step + 1
        const evalNow = evalBatches.length > 0 && (done === total || (config.evalSteps !== undefined && done % config.evalSteps === 0))
        const row: HistoryRow = {
          step: done,
          epoch: done / perEpoch,
          loss: result.loss,
          learning_rate: lr,
          grad_norm: result.gradNorm,
          trained_tokens: result.tokens,
          eval_loss: evalNow ? yield* evaluate(model, evalBatches) : null
        }
        history.push(row)
        const now = performance.now()
        ctx.scalars(done, {
          "train/loss": row.loss,
          "train/learning_rate": lr,
          "train/grad_norm": row.grad_norm,
          "train/tokens_per_second": result.seen / Math.max(1e-9, (now - stepStarted) / 1000),
          "train/memory_mib": process.memoryUsage.rss() / 2 ** 20,
          ...(row.eval_loss === null ? {} : { "eval/loss": row.eval_loss, "eval/perplexity": Math.exp(row.eval_loss) })
        })
        stepStarted = now
        if (done === 1 || done === total || done % config.loggingSteps === 0) ctx.log(`step ${done}/${total} loss ${row.loss.toFixed(4)} lr ${lr.toExponential(3)} grad_norm ${row.grad_norm.toFixed(3)}${row.eval_loss === null ? "" : ` eval_loss ${row.eval_loss.toFixed(4)}`}`)
        ctx.progress(done, total)
        if (config.saveSteps !== undefined && done % config.saveSteps === 0 && done < total) {
          const checkpointDir = join(ctx.tmpDir, `checkpoint-${done}`)
          yield* Effect.promise(() => mkdir(checkpointDir))
          yield* writeCheckpoint(checkpointDir, model.saveState(), history)
          yield* ctx.checkpoints.save(done, checkpointDir)
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
      yield* exportHfModel(out, hf, model.weights())

      const finalEval = history.findLast((r) => r.eval_loss !== null)?.eval_loss
      return {
        outputs: { model: { dir: out }, history: historyTable(history) },
        metrics: {
          steps: history.length,
          firstLoss: history[0]!.loss,
          trainLoss: history.at(-1)!.loss,
          ...(finalEval == null ? {} : { evalLoss: finalEval }),
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
        ...lines.slice(ctx.rows)
      ].join("\n")
    })
})
