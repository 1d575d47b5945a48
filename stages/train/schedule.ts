/**
 * Learning-rate schedules with transformers' semantics (`get_scheduler`): `warmupRatio` gives
 * ceil(ratio × total) warm-up steps, the rate rises linearly from 0 over them, then follows the
 * schedule. Optimizer step k (0-based) uses `learningRate × factor(k)`, as LambdaLR does.
 */
export const schedulerTypes = ["linear", "cosine", "constant_with_warmup", "constant"] as const
export type SchedulerType = (typeof schedulerTypes)[number]

/** transformers' `TrainingArguments.get_warmup_steps`: a positive step count wins over the ratio. */
export const warmupSteps = (warmupRatio: number, totalSteps: number, steps?: number): number =>
  steps !== undefined && steps > 0 ? steps : Math.ceil(warmupRatio * totalSteps)

/**
 * A starting learning rate for a model of `parameters`, from the TRL chapter's table (section 2.1)
 * and its rule of thumb: 5e-5 below 7B, 2e-5 from 7B, and 1e-5 (inside its 5e-6 to 2e-5 range)
 * from 30B. Smaller models than the table's 1B take its smallest row.
 */
export const defaultLearningRate = (parameters: number): number =>
  parameters >= 30e9 ? 1e-5 : parameters >= 7e9 ? 2e-5 : 5e-5

/** The multiplier of the base learning rate at optimizer step `step` of `total`. */
export const lrFactor = (type: SchedulerType, step: number, total: number, warmup: number): number => {
  if (type === "constant") return 1
  if (step < warmup) return step / Math.max(1, warmup)
  switch (type) {
    case "constant_with_warmup":
      return 1
    case "linear":
      return Math.max(0, (total - step) / Math.max(1, total - warmup))
    case "cosine": {
      // num_cycles = 0.5: half a cosine from 1 down to 0 over the steps after warm-up.
      const progress = (step - warmup) / Math.max(1, total - warmup)
      return Math.max(0, 0.5 * (1 + Math.cos(Math.PI * progress)))
    }
  }
}
