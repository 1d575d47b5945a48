/**
 * evaluate: scores every checkpoint train kept. For each: the loss, perplexity and token accuracy
 * on the validation rows, and greedy answers to held-out prompts (stopping at the template's end
 * of turn or `maxNewTokens`), judged by an optional task metric. Outputs a metrics table (one row
 * per checkpoint, for select-best) and a samples table (prompt, reference, generated, match).
 *
 * Its own stage, so changing how a model is judged never retrains it. Greedy decoding and a fixed
 * batch order make the outputs a pure function of the inputs.
 */
import { Effect, Schema } from "effect"
import { join } from "node:path"
import { loadHfModel } from "../native/hfConfig.ts"
import { NativeModel } from "../native/index.ts"
import { defineStage, Files, Optional, StageFailure, Table, tableFrom, withDefault } from "../src/index.ts"
import { answerText, readPrompts } from "./evaluate/prompts.ts"
import type { Prompts } from "./evaluate/prompts.ts"
import { describeMetric, judge, TaskMetric } from "./evaluate/taskMetric.ts"
import { conversationSchema } from "./schemas/conversation.ts"
import { evalMetricsSchema, samplesSchema } from "./schemas/evaluation.ts"
import { packedSchema } from "./schemas/packed.ts"
import { TemplateConfig } from "./template.ts"
import { checkpointName, checkpointStep } from "./train/hfCheckpoint.ts"
import { score, validationBatches } from "./train/validation.ts"

export { evalMetricsSchema, samplesSchema } from "./schemas/evaluation.ts"

const count = Schema.Int.check(Schema.isGreaterThanOrEqualTo(1))

/** The template fields render prompts as the template stage renders training rows: give both the same. */
export const EvaluateConfig = Schema.Struct({
  ...TemplateConfig.fields,
  perDeviceEvalBatchSize: count.pipe(withDefault(8)),
  maxNewTokens: count.pipe(withDefault(128)),
  /** Answer at most this many held-out prompts (default: every one). */
  maxPrompts: Schema.optionalKey(count),
  metric: Schema.optionalKey(TaskMetric),
  /** Worker threads (default: every core); not in the key. */
  threads: Schema.optionalKey(count)
})
export type EvaluateConfig = typeof EvaluateConfig.Type

interface MetricsRow {
  step: number
  checkpoint: string
  eval_loss: number | null
  eval_perplexity: number | null
  eval_token_accuracy: number | null
  eval_task_metric: number | null
  eval_tokens: number
  eval_samples: number
}

interface SampleRow {
  step: number
  prompt: string
  reference: string
  generated: string
  match: boolean | null
  source: string
}

const failure = (message: string, cause?: unknown) => new StageFailure({ stage: "evaluate", message, cause })

const engine = <A>(what: string, f: () => Promise<A>) =>
  Effect.tryPromise({ try: f, catch: (cause) => failure(`${what}: ${(cause as Error).message}`, cause) })

// One line of an answer for logs.
const oneLine = (text: string, width: number) => {
  const flat = JSON.stringify(text)
  return flat.length <= width ? flat : flat.slice(0, width - 1) + "…"
}

export const evaluate = defineStage({
  name: "evaluate",
  module: import.meta.url,
  reads: [],
  extraCode: ["./chat"],
  config: EvaluateConfig,
  unkeyed: ["threads"],
  inputs: {
    checkpoints: Files(),
    validation: Optional(Table(packedSchema)),
    prompts: Optional(Table(conversationSchema)),
    /** The model directory (tokenizer.json, the template): needed with prompts. */
    tokenizer: Optional(Files())
  },
  outputs: { metrics: Table(evalMetricsSchema), samples: Table(samplesSchema) },
  run: (ctx) =>
    Effect.gen(function*() {
      const { config } = ctx
      const steps = [...new Set(ctx.inputs.checkpoints.files.flatMap((f) => checkpointStep(f.path.split("/")[0]!) ?? []))]
        .sort((a, b) => a - b)
      if (steps.length === 0) return yield* Effect.fail(failure("the checkpoints input holds no checkpoint-<step>/ directory"))
      const batches = ctx.inputs.validation === undefined ? [] : validationBatches(ctx.inputs.validation, config.perDeviceEvalBatchSize)
      const held = ctx.inputs.prompts
      const tokenizer = ctx.inputs.tokenizer
      if (held !== undefined && tokenizer === undefined) {
        return yield* Effect.fail(failure("prompts need the tokenizer input (the model directory) to be rendered and decoded"))
      }
      const prompts: Prompts | undefined = held === undefined ? undefined : yield* Effect.try({
        try: () => readPrompts(held, tokenizer!.dir, { ...config, kwargs: config.chatTemplateKwargs }, config.maxPrompts),
        catch: (error) => failure(`prompts: ${(error as Error).message}`, error)
      })
      for (const source of prompts?.skipped ?? []) ctx.log(`${source}: skipped: the last turn is not the assistant's, nothing to answer`)
      const right = config.metric === undefined ? undefined : yield* Effect.try({
        try: () => judge(config.metric!),
        catch: (error) => failure((error as Error).message, error)
      })
      if (config.metric !== undefined) ctx.log(`task metric: ${describeMetric(config.metric)}`)

      const metrics: Array<MetricsRow> = []
      const samples: Array<SampleRow> = []
      for (const [index, step] of steps.entries()) {
        const name = checkpointName(step)
        const loaded = yield* loadHfModel(join(ctx.inputs.checkpoints.dir, name)).pipe(
          Effect.mapError((error) => failure(`${name}: ${error.message}`, error))
        )
        const model = NativeModel.create(loaded.config, loaded.weights, config.threads === undefined ? {} : { threads: config.threads })
        const scored = yield* engine(`${name}: evaluation failed`, () => score(model, batches))
        const loss = scored.tokens === 0 ? null : scored.lossSum / scored.tokens
        let matched = 0
        for (const prompt of prompts?.prompts ?? []) {
          const ids = yield* engine(`${name}: generation failed for ${prompt.source}`, () =>
            model.generate(prompt.ids, { maxNewTokens: config.maxNewTokens, temperature: 0, topP: 1, stopTokens: prompts!.stopTokens, seed: 0 }))
          const generated = answerText(prompts!, ids)
          const match = right === undefined ? null : right(generated, prompt.reference)
          if (match === true) matched++
          samples.push({ step, prompt: prompt.text, reference: prompt.reference, generated, match, source: prompt.source })
        }
        const answered = prompts?.prompts.length ?? 0
        const row: MetricsRow = {
          step,
          checkpoint: name,
          eval_loss: loss,
          eval_perplexity: loss === null ? null : Math.exp(loss),
          eval_token_accuracy: scored.tokens === 0 ? null : scored.correct / scored.tokens,
          eval_task_metric: right === undefined || answered === 0 ? null : matched / answered,
          eval_tokens: scored.tokens,
          eval_samples: answered
        }
        metrics.push(row)
        // Loss and perplexity are train's tags at the same steps (when it has validation rows).
        ctx.scalars(step, {
          ...(row.eval_token_accuracy === null ? {} : { "eval/token_accuracy": row.eval_token_accuracy }),
          ...(row.eval_task_metric === null ? {} : { "eval/task_metric": row.eval_task_metric })
        })
        ctx.progress(index + 1, steps.length)
      }
      for (const line of beforeAndAfter(samples, steps)) ctx.log(line)

      const last = metrics.at(-1)!
      return {
        outputs: {
          metrics: tableFrom(evalMetricsSchema, {
            step: metrics.map((m) => m.step),
            checkpoint: metrics.map((m) => m.checkpoint),
            eval_loss: metrics.map((m) => m.eval_loss),
            eval_perplexity: metrics.map((m) => m.eval_perplexity),
            eval_token_accuracy: metrics.map((m) => m.eval_token_accuracy),
            eval_task_metric: metrics.map((m) => m.eval_task_metric),
            eval_tokens: metrics.map((m) => m.eval_tokens),
            eval_samples: metrics.map((m) => m.eval_samples)
          }),
          samples: tableFrom(samplesSchema, {
            step: samples.map((s) => s.step),
            prompt: samples.map((s) => s.prompt),
            reference: samples.map((s) => s.reference),
            generated: samples.map((s) => s.generated),
            match: samples.map((s) => s.match),
            source: samples.map((s) => s.source)
          })
        },
        metrics: {
          checkpoints: metrics.length,
          prompts: last.eval_samples,
          skippedPrompts: prompts?.skipped.length ?? 0,
          ...(config.metric === undefined ? {} : { taskMetric: describeMetric(config.metric) }),
          ...Object.fromEntries(
            (["eval_loss", "eval_token_accuracy", "eval_task_metric"] as const).flatMap((k) => last[k] === null ? [] : [[k, last[k]]])
          )
        }
      }
    }),
  // The answers of the first and the last checkpoint side by side, and each checkpoint's metrics.
  inspect: (ctx) =>
    Effect.sync(() => {
      const metrics = ctx.outputs.metrics.toArray().map((row) => row.toJSON() as MetricsRow)
      const samples = ctx.outputs.samples.toArray().map((row) => row.toJSON() as SampleRow)
      const cell = (value: number | null, digits: number) => value === null ? "—" : value.toFixed(digits)
      return [
        "checkpoint          eval_loss  token_acc  task_metric",
        ...metrics.map((m) =>
          `${m.checkpoint.padEnd(18)}  ${cell(m.eval_loss, 4).padStart(9)}  ${cell(m.eval_token_accuracy, 3).padStart(9)}  ${cell(m.eval_task_metric, 3).padStart(11)}`
        ),
        ...beforeAndAfter(samples, metrics.map((m) => m.step), ctx.rows)
      ].join("\n")
    })
})

/** For each prompt (at most `limit`), its reference and the first and last checkpoints' answers. */
const beforeAndAfter = (samples: ReadonlyArray<SampleRow>, steps: ReadonlyArray<number>, limit = Infinity): Array<string> => {
  const first = steps[0]!
  const last = steps.at(-1)!
  const at = (step: number) => samples.filter((s) => s.step === step)
  const after = at(last)
  const before = first === last ? [] : at(first)
  const mark = (s: SampleRow) => s.match === null ? "" : s.match ? " ✓" : " ✗"
  return after.slice(0, limit).flatMap((s, i) => [
    "",
    `${s.source}: reference ${oneLine(s.reference, 100)}`,
    ...(before[i] === undefined ? [] : [`  ${checkpointName(first)}:${mark(before[i]!)} ${oneLine(before[i]!.generated, 100)}`]),
    `  ${checkpointName(last)}:${mark(s)} ${oneLine(s.generated, 100)}`
  ])
}
