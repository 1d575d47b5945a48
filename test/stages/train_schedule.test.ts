/**
 * The train stage's learning-rate schedules against transformers' `get_scheduler`, step by step.
 */
import { join } from "node:path"
import { expect, it } from "vitest"
import { lrFactor, schedulerTypes, warmupSteps } from "../../stages/train/schedule.ts"
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
