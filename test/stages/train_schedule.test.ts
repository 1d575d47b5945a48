/**
 * The train stage's learning-rate schedules against transformers' `get_scheduler`, step by step,
 * and how it counts optimizer steps and warm-up.
 */
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import { planSteps, stepsPerEpoch } from "../../stages/train/batches.ts"
import { defaultLearningRate, lrFactor, schedulerTypes, warmupSteps } from "../../stages/train/schedule.ts"
import { describeOracle, runOracle } from "../support/oracle.ts"

const cases = schedulerTypes.flatMap((type) =>
  [{ total: 30, warmupRatio: 0.1 }, { total: 7, warmupRatio: 0 }, { total: 12, warmupRatio: 0.5 }].map((c) => ({ type, ...c }))
)

describeOracle("learning-rate schedules", () => {
  it("match transformers' get_scheduler at every step", () => {
    const reference = JSON.parse(runOracle(join(import.meta.dirname, "oracle", "lr_schedule.py"), [], JSON.stringify({ cases }))) as Array<Array<number>>
    cases.forEach((c, i) => {
      const warmup = warmupSteps(c.warmupRatio, c.total)
      const ours = Array.from({ length: c.total }, (_, step) => lrFactor(c.type, step, c.total, warmup))
      expect(ours.length).toBe(reference[i]!.length)
      ours.forEach((value, step) => expect(value, `${c.type} total ${c.total} step ${step}`).toBeCloseTo(reference[i]![step]!, 12))
    })
  })
})

describe("the optimizer-step plan", () => {
  it("repeats epochs up to maxSteps and cuts the last one there, as max_steps does", () => {
    const options = { epochs: 1, batchSize: 2, accumulation: 1, seed: 3 }
    expect(stepsPerEpoch(5, 2, 1)).toBe(3)
    expect(stepsPerEpoch(5, 2, 2)).toBe(2)
    const threeEpochs = planSteps(5, { ...options, epochs: 3 })
    const capped = planSteps(5, { ...options, maxSteps: 7 })
    expect(capped).toHaveLength(7)
    expect(capped).toEqual(threeEpochs.slice(0, 7))
    expect(planSteps(5, { ...options, epochs: 3, maxSteps: 2 })).toEqual(threeEpochs.slice(0, 2))
  })

  it("takes warmupSteps over warmupRatio when it is positive, as transformers 4's get_warmup_steps did (5 folds the ratio into warmup_steps < 1)", () => {
    expect(warmupSteps(0.1, 30)).toBe(3)
    expect(warmupSteps(0.1, 30, 5)).toBe(5)
    expect(warmupSteps(0.1, 30, 0)).toBe(3)
  })

  it("starts from the TRL chapter's learning rate for the model's size", () => {
    expect([135e6, 3e9, 7e9, 13e9, 70e9].map(defaultLearningRate)).toEqual([5e-5, 5e-5, 2e-5, 2e-5, 1e-5])
  })
})
