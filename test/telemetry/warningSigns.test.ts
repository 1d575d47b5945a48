/**
 * The warning signs of the TRL chapter's table: each fires at the step where it starts, once per
 * stretch where it holds, and a healthy run (a noisy, falling loss) raises none.
 */
import { describe, expect, it } from "vitest"
import { Tag } from "../../src/telemetry/Tags.ts"
import { makeWarningSigns } from "../../src/telemetry/WarningSigns.ts"

/** Observes `steps` (1-based, each step's scalars) and returns the kinds with their steps. */
const watch = (steps: ReadonlyArray<Record<string, number>>) => {
  const signs = makeWarningSigns()
  return steps.flatMap((values, i) => signs.observe("train", i + 1, values)).map((w) => `${w.kind}@${w.step}`)
}

const trend = (i: number, n: number) => 10 - 6 * (i / n)

// A falling loss with ±10% batch noise from a fixed LCG.
const noisy = (n: number) => {
  let state = 7
  return Array.from({ length: n }, (_, i) => {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0
    return trend(i, n) * (1 + 0.2 * (state / 2 ** 32 - 0.5))
  })
}

describe("warning signs", () => {
  it("a healthy run raises none", () => {
    const steps = noisy(200).map((loss, i) => ({
      [Tag.loss]: loss,
      [Tag.gradNorm]: 0.5 + (i % 7) / 10,
      [Tag.tokensPerSecond]: 2000 + ((i * 37) % 300),
      // The eval loss of a fixed validation set follows the trend, without batch noise.
      ...(i % 20 === 19 ? { [Tag.evalLoss]: trend(i, 200) * 1.05 } : {})
    }))
    expect(watch(steps)).toEqual([])
  })

  it("a loss spike against the moving average, once per stretch; NaN loss", () => {
    const losses = [5, 5, 5, 5, 5, 9, 9.5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 12, Number.NaN]
    expect(watch(losses.map((loss) => ({ [Tag.loss]: loss })))).toEqual(["loss-spike@6", "loss-spike@21", "loss-not-finite@22"])
  })

  it("grad norm above 10 or below 1e-6, and NaN as exploding", () => {
    const norms = [1, 11, 12, 1, 1e-7, 1e-7, 1, Number.NaN]
    expect(watch(norms.map((n) => ({ [Tag.gradNorm]: n })))).toEqual([
      "grad-norm-exploding@2",
      "grad-norm-vanishing@5",
      "grad-norm-exploding@8"
    ])
  })

  it("eval loss rising while the train loss falls is overfitting", () => {
    const steps = Array.from({ length: 30 }, (_, i) => ({
      [Tag.loss]: 5 - i / 10,
      ...(i === 9 ? { [Tag.evalLoss]: 4.5 } : i === 19 ? { [Tag.evalLoss]: 4.4 } : i === 29 ? { [Tag.evalLoss]: 4.6 } : {})
    }))
    expect(watch(steps)).toEqual(["overfitting@30"])
    // A rise within 1% is a wobble.
    const wobble = steps.map((values, i) => (i === 29 ? { ...values, [Tag.evalLoss]: 4.42 } : values))
    expect(watch(wobble)).toEqual([])
    // Eval loss rising with the train loss (training diverging) is not overfitting.
    const rising = steps.map((values, i) => ({ ...values, [Tag.loss]: 3 + i / 10 }))
    expect(watch(rising)).toEqual([])
  })

  it("tokens/s dropping sharply in most of three steps, not in one slow step", () => {
    const rates = [2000, 2100, 1900, 2000, 600, 2000, 2050, 700, 650, 600, 2000]
    expect(watch(rates.map((r) => ({ [Tag.tokensPerSecond]: r })))).toEqual(["throughput-drop@9"])
  })

  it("says what to do, with the step", () => {
    const signs = makeWarningSigns()
    for (const step of [1, 2, 3]) signs.observe("train", step, { [Tag.loss]: 2 })
    const [warning] = signs.observe("train", 4, { [Tag.loss]: 20 })
    expect(warning).toMatchObject({ stage: "train", step: 4, kind: "loss-spike" })
    expect(warning!.message).toContain("10.0× its moving average 2.000")
    expect(warning!.advice).toContain("reduce it 2–3×")
  })
})
