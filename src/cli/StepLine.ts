/**
 * What the CLI shows of a running stage's telemetry: one line of its latest scalars (Trainer-style
 * names: loss, grad_norm, lr, eval_loss, tok/s, rss, then any other tag as reported), its ETA, and
 * which steps get a line in the log: the first, the last, every `loggingSteps`-th (the stage's own
 * config field, TRL's `logging_steps`; every step when it has none), step 1 and every evaluation.
 */
import { formatScalar } from "../telemetry/FormatScalar.ts"
import { sortTags, Tag } from "../telemetry/Tags.ts"
import { duration } from "./Format.ts"

const fixed = (digits: number) => (value: number) => value.toFixed(digits)

const shown: Record<string, { readonly label: string; readonly format: (value: number) => string }> = {
  [Tag.loss]: { label: "loss", format: fixed(4) },
  [Tag.evalLoss]: { label: "eval_loss", format: fixed(4) },
  [Tag.learningRate]: { label: "lr", format: (value) => value.toExponential(2) },
  [Tag.gradNorm]: { label: "grad_norm", format: formatScalar },
  [Tag.tokensPerSecond]: { label: "tok/s", format: (value) => String(Math.round(value)) },
  [Tag.evalPerplexity]: { label: "eval_ppl", format: formatScalar },
  [Tag.memoryMiB]: { label: "rss", format: (value) => `${Math.round(value)} MiB` }
}

/** `loss 8.7800  lr 8.83e-4 …` for the given scalars, known tags first. */
export const scalarsText = (values: Readonly<Record<string, number>>): string =>
  sortTags(Object.keys(values)).map((tag) => {
    const known = shown[tag]
    const value = values[tag]!
    return known === undefined ? `${tag} ${formatScalar(value)}` : `${known.label} ${known.format(value)}`
  }).join("  ")

/** The `loggingSteps` of a stage's config, when it has a positive integer one. */
const loggingStepsOf = (config: unknown): number | undefined => {
  const fields = typeof config === "object" && config !== null && !Array.isArray(config)
    ? config as { readonly [key: string]: unknown }
    : undefined
  const value = fields?.loggingSteps
  return typeof value === "number" && Number.isInteger(value) && value > 0 ? value : undefined
}

/** One stage's telemetry as the CLI follows it. */
export class StageTelemetry {
  /** The latest value of each tag (an eval loss stays until the next evaluation). */
  readonly latest: Record<string, number> = {}
  step = 0
  total: number | undefined
  private first: { readonly step: number; readonly at: number } | undefined
  private readonly loggingSteps: number | undefined

  constructor(config: unknown) {
    this.loggingSteps = loggingStepsOf(config)
  }

  /** The scalars of the latest step when it gets a log line that was not yet taken. */
  private due: Readonly<Record<string, number>> | undefined

  /**
   * Takes the stage's progress. Its total is the step total only when the stage counts progress
   * in steps (evaluate counts checkpoints, whose steps are train's).
   */
  progress(done: number, total: number): void {
    this.total = done === this.step ? total : undefined
  }

  /** Takes one step's scalars. */
  observe(step: number, values: Readonly<Record<string, number>>, now = Date.now()): void {
    const isFirst = this.first === undefined
    if (isFirst) this.first = { step, at: now }
    this.step = step
    Object.assign(this.latest, values)
    const logged = isFirst || step === 1 || step === this.total || this.loggingSteps === undefined || step % this.loggingSteps === 0 ||
      Object.keys(values).some((tag) => tag.startsWith("eval/"))
    this.due = logged ? values : undefined
  }

  /**
   * The log line of the latest step, once. Reporters take it when the stage's next event comes
   * (a stage reports its progress right after its scalars, so the line can say `step 1/30`).
   */
  takeLine(now = Date.now()): string | undefined {
    const values = this.due
    this.due = undefined
    return values === undefined ? undefined : this.line(values, now)
  }

  /** Time left at the rate of the steps seen so far, once two steps and the total are known, until the last. */
  eta(now = Date.now()): number | undefined {
    if (this.first === undefined || this.total === undefined || this.step <= this.first.step || this.step >= this.total) return undefined
    return ((now - this.first.at) / (this.step - this.first.step)) * (this.total - this.step)
  }

  /** `step 10/30  loss …  ETA 18s` with the given scalars. */
  private line(values: Readonly<Record<string, number>>, now = Date.now()): string {
    const eta = this.eta(now)
    const step = `step ${this.step}${this.total === undefined ? "" : `/${this.total}`}`
    return [step, scalarsText(values), ...(eta === undefined ? [] : [`ETA ${duration(eta)}`])]
      .filter((part) => part !== "").join("  ")
  }
}
