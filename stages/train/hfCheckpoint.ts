/**
 * The Hugging Face checkpoints the train stage keeps, as the Trainer's `output_dir` holds them:
 * `checkpoint-<step>/` with `config.json`, `model.safetensors` (fp32), `trainer_state.json` and
 * `training_args.json` (the stage's config, as the Trainer's training_args.bin),
 * written every `saveSteps` and at the last step, at most `saveTotalLimit` of them. They are an
 * output of the stage, so evaluate can score each and select-best can pick one.
 */
import { Effect } from "effect"
import { mkdir, rm, writeFile } from "node:fs/promises"
import { join } from "node:path"
import type { HfModelConfig } from "../../native/hfConfig.ts"
import { exportHfModel } from "../../native/hfExport.ts"
import type { Weights } from "../../native/index.ts"
import { StageFailure } from "../../src/index.ts"
import type { HistoryRow } from "./history.ts"

/** The directory name of the checkpoint of `step`, as the Trainer names it. */
export const checkpointName = (step: number): string => `checkpoint-${step}`

/** The step of a checkpoint directory name, if it is one. */
export const checkpointStep = (name: string): number | undefined => {
  const match = /^checkpoint-(\d+)$/.exec(name)
  return match === null ? undefined : Number(match[1])
}

/** The best evaluation so far: its step and the value of `metricForBestModel`. */
export interface Best {
  readonly step: number
  readonly metric: number
}

/** Whether `metric` beats `best`; only a strict improvement counts, so ties stay with the earlier step. */
export const improves = (metric: number, best: Best | undefined, greaterIsBetter: boolean): boolean =>
  best === undefined || (greaterIsBetter ? metric > best.metric : metric < best.metric)

/**
 * The checkpoints to delete so that at most `limit` remain, as transformers' `rotate_checkpoints`:
 * the oldest first, never the newest (to resume from) nor the best, so more than `limit` remain
 * when those two are both protected and the limit is 1.
 */
export const rotate = (steps: ReadonlyArray<number>, limit: number | undefined, best: number | undefined): Array<number> => {
  if (limit === undefined || steps.length <= limit) return []
  const sorted = [...steps].sort((a, b) => a - b)
  const protectedSteps = new Set([sorted.at(-1)!, ...(best !== undefined && steps.includes(best) ? [best] : [])])
  const keep = Math.max(limit, protectedSteps.size)
  const removed: Array<number> = []
  for (const step of sorted) {
    if (sorted.length - removed.length <= keep) break
    if (!protectedSteps.has(step)) removed.push(step)
  }
  return removed
}

/** What `trainer_state.json` records (the Trainer's field names, so its readers find them). */
export interface TrainerState {
  readonly globalStep: number
  readonly epoch: number
  readonly maxSteps: number
  readonly best: Best | undefined
  readonly history: ReadonlyArray<HistoryRow>
  /** The hyper-parameters, for training_args.json. */
  readonly args: Readonly<Record<string, unknown>>
}

// The Trainer's log_history: one entry per logged training step, one per evaluation.
const logHistory = (history: ReadonlyArray<HistoryRow>) =>
  history.flatMap((r) => [
    { epoch: r.epoch, grad_norm: r.grad_norm, learning_rate: r.learning_rate, loss: r.loss, step: r.step },
    ...(r.eval_loss === null ? [] : [{ epoch: r.epoch, eval_loss: r.eval_loss, step: r.step }])
  ])

const failure = (message: string) => (cause: unknown) => new StageFailure({ stage: "train", message, cause })

/** Writes `parent/checkpoint-<step>/` for `weights`. */
export const writeHfCheckpoint = (
  parent: string,
  model: Pick<HfModelConfig, "config" | "json">,
  weights: Weights,
  state: TrainerState
) =>
  Effect.gen(function*() {
    const dir = join(parent, checkpointName(state.globalStep))
    const json = {
      global_step: state.globalStep,
      epoch: state.epoch,
      max_steps: state.maxSteps,
      best_metric: state.best?.metric ?? null,
      best_global_step: state.best?.step ?? null,
      best_model_checkpoint: state.best === undefined ? null : checkpointName(state.best.step),
      log_history: logHistory(state.history)
    }
    yield* Effect.tryPromise({ try: () => mkdir(dir, { recursive: true }), catch: failure(`cannot create ${dir}`) })
    yield* exportHfModel(dir, model, weights).pipe(Effect.mapError((e) => failure(e.message)(e)))
    for (const [file, content] of [["trainer_state.json", json], ["training_args.json", state.args]] as const) {
      yield* Effect.tryPromise({
        try: () => writeFile(join(dir, file), JSON.stringify(content, null, 2) + "\n"),
        catch: failure(`cannot write ${dir}/${file}`)
      })
    }
  })

/** Deletes the checkpoint of `step` under `parent`. */
export const removeHfCheckpoint = (parent: string, step: number) =>
  Effect.tryPromise({
    try: () => rm(join(parent, checkpointName(step)), { recursive: true, force: true }),
    catch: failure(`cannot delete ${checkpointName(step)}`)
  })
