/**
 * Watches the scalars of running stages for the warning signs of the TRL chapter's table
 * (section 4.1) and says what to do about each, in the chapter's words where it gives advice
 * (section 2.1: "if validation loss increases during training, reduce the learning rate by 2x to
 * 3x"; section 4.3 on overfitting and the best checkpoint).
 *
 * A sign is reported at the first step of each stretch of steps where it holds, so a run whose
 * gradients stay above 10 for a thousand steps gets one warning, and a second one if it recovers
 * and explodes again later.
 */
import { formatScalar } from "./FormatScalar.ts"
import { Tag } from "./Tags.ts"
import type { Warning, WarningKind } from "./Warning.ts"

/** Steps a moving average spans: enough to smooth batch noise, short enough to follow the loss down. */
export const window = 10
/** The fewest earlier steps a moving average needs before it can call a step unusual. */
export const minHistory = 3
/** A step's loss this many times its moving average is a spike (batch noise stays within ±20%). */
export const spikeRatio = 1.5
/** The chapter's thresholds for exploding and vanishing gradients. */
export const gradNormHigh = 10
export const gradNormLow = 1e-6
/** An eval loss rises when it exceeds the previous evaluation's by more than this fraction (not a wobble). */
export const evalRise = 0.01
/**
 * Tokens/s is a sharp drop when the median of the last `throughputSteps` steps falls below this
 * fraction of the median of the `window` steps before them: one slow step (a collection, a page
 * fault) is noise, most of three in a row are a bottleneck.
 */
export const throughputDropRatio = 0.5
export const throughputSteps = 3

const lowerLr = "the learning rate is likely too high: reduce it 2–3× (and keep a warm-up of 5–10% of the steps)"

const advice: Record<WarningKind, string> = {
  "loss-spike": lowerLr,
  "loss-not-finite": `training has diverged and will not recover: stop the run; ${lowerLr}`,
  "grad-norm-exploding": `exploding gradients: ${lowerLr}; keep gradient clipping on (maxGradNorm 1.0)`,
  "grad-norm-vanishing":
    "vanishing gradients, the model has stopped learning: check that the labels are not all masked and that the " +
    "learning rate has not decayed to 0; if the loss plateaus after the warm-up, raise the learning rate 2×",
  overfitting:
    "overfitting: stop early and keep the checkpoint with the lowest eval loss (loadBestModelAtEnd, " +
    "metricForBestModel eval_loss); or raise weightDecay to 0.05–0.1, train fewer epochs, or lower the learning rate 2–3×",
  "throughput-drop":
    "a bottleneck: another process on the same cores, memory swapping (see train/memory_mib) or slow data reads"
}

const mean = (values: ReadonlyArray<number>) => values.reduce((sum, v) => sum + v, 0) / values.length

const median = (values: ReadonlyArray<number>) => {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}


/** What one stage's watcher remembers between steps. */
interface StageState {
  readonly losses: Array<number>
  /** The last `window + throughputSteps` tokens/s. */
  readonly throughputs: Array<number>
  /** Eval loss and the train loss average at the previous evaluation. */
  previousEval?: { readonly evalLoss: number; readonly trainLoss: number }
  /** Kinds whose condition held at the last step that could test them. */
  readonly active: Set<WarningKind>
}

/** Keeps the last `window` values. */
const remember = (values: Array<number>, value: number) => {
  values.push(value)
  if (values.length > window) values.shift()
}

/** A watcher over every stage of one run. */
export interface WarningSigns {
  /** The warnings that start at this step of `stage`. */
  readonly observe: (stage: string, step: number, values: Readonly<Record<string, number>>) => ReadonlyArray<Warning>
}

export const makeWarningSigns = (): WarningSigns => {
  const stages = new Map<string, StageState>()
  return {
    observe: (stage, step, values) => {
      let state = stages.get(stage)
      if (state === undefined) {
        state = { losses: [], throughputs: [], active: new Set() }
        stages.set(stage, state)
      }
      const out: Array<Warning> = []
      const { active } = state
      // Reports `kind` when its condition starts holding; `holds` undefined: not testable at this step.
      const check = (kind: WarningKind, holds: boolean | undefined, message: () => string) => {
        if (holds === undefined) return
        if (holds && !active.has(kind)) out.push({ stage, step, kind, message: message(), advice: advice[kind] })
        if (holds) active.add(kind)
        else active.delete(kind)
      }

      const loss = values[Tag.loss]
      if (loss !== undefined) {
        check("loss-not-finite", !Number.isFinite(loss), () => `loss is ${loss}`)
        if (Number.isFinite(loss)) {
          const average = state.losses.length >= minHistory ? mean(state.losses) : undefined
          check(
            "loss-spike",
            average === undefined ? undefined : loss > spikeRatio * average,
            () => `loss ${formatScalar(loss)} is ${(loss / average!).toFixed(1)}× its moving average ${formatScalar(average!)} over the last ${state.losses.length} steps`
          )
          remember(state.losses, loss)
        }
      }

      const gradNorm = values[Tag.gradNorm]
      if (gradNorm !== undefined) {
        check("grad-norm-exploding", !(gradNorm <= gradNormHigh), () => `grad norm ${formatScalar(gradNorm)} > ${gradNormHigh}`)
        check("grad-norm-vanishing", gradNorm < gradNormLow, () => `grad norm ${formatScalar(gradNorm)} < ${gradNormLow}`)
      }

      const evalLoss = values[Tag.evalLoss]
      if (evalLoss !== undefined && Number.isFinite(evalLoss) && state.losses.length > 0) {
        const trainLoss = mean(state.losses)
        const previous = state.previousEval
        check(
          "overfitting",
          previous === undefined ? undefined : evalLoss > previous.evalLoss * (1 + evalRise) && trainLoss < previous.trainLoss,
          () => `eval loss rose ${formatScalar(previous!.evalLoss)} → ${formatScalar(evalLoss)} while the train loss fell ${formatScalar(previous!.trainLoss)} → ${formatScalar(trainLoss)}`
        )
        state.previousEval = { evalLoss, trainLoss }
      }

      const throughput = values[Tag.tokensPerSecond]
      if (throughput !== undefined && Number.isFinite(throughput)) {
        const { throughputs } = state
        throughputs.push(throughput)
        if (throughputs.length > window + throughputSteps) throughputs.shift()
        const before = throughputs.slice(0, -throughputSteps)
        const typical = before.length >= minHistory ? median(before) : undefined
        const recent = median(throughputs.slice(-throughputSteps))
        check(
          "throughput-drop",
          typical === undefined ? undefined : recent < throughputDropRatio * typical,
          () => `tokens/s fell to ${formatScalar(recent)} over the last ${throughputSteps} steps, ${(recent / typical!).toFixed(2)}× the median ${formatScalar(typical!)} of the steps before`
        )
      }
      return out
    }
  }
}
