/**
 * The CLI's line of a stage's scalars: `step n/total` only when the stage counts its progress in
 * steps, so evaluate (which counts checkpoints, at train's steps) never reads `step 30/4`.
 */
import { expect, it } from "vitest"
import { StageTelemetry } from "../../src/cli/StepLine.ts"

it("names the step total only when progress counts steps", () => {
  const train = new StageTelemetry({ loggingSteps: 10 })
  train.observe(10, { "train/loss": 2 }, 0)
  train.progress(10, 30)
  expect(train.takeLine(0)).toMatch(/^step 10\/30  loss 2\.0000/)

  const evaluate = new StageTelemetry({})
  evaluate.observe(30, { "eval/task_metric": 0.7 }, 0)
  evaluate.progress(2, 4)
  expect(evaluate.takeLine(0)).toBe("step 30  eval/task_metric 0.7000")
})
