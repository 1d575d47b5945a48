/**
 * The plain reporter on a stage's telemetry: a line at the first step, every `loggingSteps`-th,
 * every evaluation and the last (with the total, once the stage has reported its progress), any
 * tag it does not know by name printed as reported, and each warning sign on a line of its own.
 */
import { describe, expect, it } from "vitest"
import { plainReporter } from "../../src/cli/PlainReporter.ts"
import { Tag } from "../../src/telemetry/Tags.ts"

describe("plain reporter", () => {
  it("logs scalars at loggingSteps, evaluations and the last step", () => {
    const lines: Array<string> = []
    const reporter = plainReporter((line) => lines.push(line))
    reporter.event({ type: "start", runId: "r", stages: ["train", "evaluate"], configs: { train: { loggingSteps: 5 }, evaluate: {} } })
    reporter.event({ type: "state", id: "train", state: "running" })
    for (let step = 1; step <= 12; step++) {
      reporter.event({
        type: "scalars",
        id: "train",
        step,
        values: { [Tag.loss]: 3 - step / 10, [Tag.gradNorm]: 0.5, ...(step === 7 ? { [Tag.evalLoss]: 2.5 } : {}) }
      })
      if (step === 6) {
        reporter.event({ type: "warning", warning: { stage: "train", step, kind: "loss-spike", message: "loss 9", advice: "lower it" } })
      }
      reporter.event({ type: "progress", id: "train", done: step, total: 12 })
    }
    reporter.event({ type: "state", id: "train", state: "done", durationMs: 1200 })
    // A stage without loggingSteps (an evaluate stage, once per checkpoint) gets a line per report.
    reporter.event({ type: "scalars", id: "evaluate", step: 12, values: { "eval/accuracy": 0.75 } })
    reporter.close()
    expect(lines.filter((line) => line.includes("step"))).toEqual([
      "  [train] step 1/12  loss 2.9000  grad_norm 0.5000",
      expect.stringMatching(/^  \[train\] step 5\/12  loss 2\.5000  grad_norm 0\.5000  ETA \S+$/),
      "  WARNING train step 6: loss 9 — lower it",
      expect.stringMatching(/^  \[train\] step 7\/12  loss 2\.3000  eval_loss 2\.5000  grad_norm 0\.5000  ETA \S+$/),
      expect.stringMatching(/^  \[train\] step 10\/12 /),
      "  [train] step 12/12  loss 1.8000  grad_norm 0.5000",
      "  [evaluate] step 12  eval/accuracy 0.7500"
    ])
    expect(lines.at(-2)).toBe("  done        train 1.2s")
  })
})
