/**
 * select-best and the evaluate stage's task metrics: the pick follows metricForBestModel and
 * greaterIsBetter with the Trainer's defaults, ties go to the earlier step, and the task metrics
 * judge answers as their names say.
 */
import { Effect, Schema } from "effect"
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import { tableFrom } from "../../src/index.ts"
import { judge, TaskMetric } from "../../stages/evaluate/taskMetric.ts"
import { evalMetricsSchema } from "../../stages/schemas/evaluation.ts"
import { selectBest, SelectBestConfig } from "../../stages/selectBest.ts"

const scratch = mkdtempSync(join(tmpdir(), "select-best-"))
afterAll(() => rmSync(scratch, { recursive: true, force: true }))

// Four checkpoints, each directory holding a file that names it.
const checkpoints = join(scratch, "checkpoints")
for (const step of [0, 10, 20, 30]) {
  mkdirSync(join(checkpoints, `checkpoint-${step}`), { recursive: true })
  writeFileSync(join(checkpoints, `checkpoint-${step}`, "which"), String(step))
}

const metrics = tableFrom(evalMetricsSchema, {
  step: [0, 10, 20, 30],
  checkpoint: ["checkpoint-0", "checkpoint-10", "checkpoint-20", "checkpoint-30"],
  eval_loss: [9, 2, 2, 3],
  eval_perplexity: [8103, 7.4, 7.4, 20],
  eval_token_accuracy: [0.01, 0.5, 0.6, 0.6],
  eval_task_metric: [null, null, null, null],
  eval_tokens: [100, 100, 100, 100],
  eval_samples: [0, 0, 0, 0]
})

const pick = (config: Record<string, unknown>) =>
  Effect.runPromise(Effect.scoped(selectBest.run({
    config: Schema.decodeUnknownSync(SelectBestConfig)(config),
    inputs: { metrics, checkpoints: { dir: checkpoints, files: [] } },
    seed: 0,
    tmpDir: mkdtempSync(join(scratch, "run-")),
    progress: () => undefined,
    log: () => undefined,
    scalars: () => undefined,
    sanity: false,
    workers: 1,
    batchSize: 10_000,
    checkpoints: { save: () => Effect.void, latest: () => Effect.die("unused") }
  })))

describe("select-best", () => {
  it("takes the lowest eval_loss by default, the earlier step on a tie, and copies that checkpoint", async () => {
    const result = await pick({})
    expect(result.metrics).toMatchObject({ checkpoint: "checkpoint-10", metric: "eval_loss", value: 2, greaterIsBetter: "false" })
    expect(String(result.metrics!.reason)).toContain("lowest of 4 checkpoints")
    expect(readFileSync(join(result.outputs.model.dir, "which"), "utf8")).toBe("10")
  })

  it("maximises accuracy by default, accepts names without eval_, and follows greaterIsBetter", async () => {
    expect((await pick({ metricForBestModel: "token_accuracy" })).metrics).toMatchObject({ checkpoint: "checkpoint-20", greaterIsBetter: "true" })
    expect((await pick({ metricForBestModel: "eval_loss", greaterIsBetter: true })).metrics).toMatchObject({ checkpoint: "checkpoint-0" })
  })

  it("fails naming the metric when no checkpoint has it", async () => {
    await expect(pick({ metricForBestModel: "eval_task_metric" })).rejects.toThrow(/no checkpoint has eval_task_metric/)
  })
})

describe("task metrics", () => {
  const metric = (value: unknown) => judge(Schema.decodeUnknownSync(TaskMetric)(value))

  it("exactMatch compares trimmed texts", () => {
    expect(metric({ type: "exactMatch" })(" 42\n", "42")).toBe(true)
    expect(metric({ type: "exactMatch" })("42.", "42")).toBe(false)
  })

  it("contains looks for its text, else the reference", () => {
    expect(metric({ type: "contains", text: "Ada" })("I am Ada.", "unused")).toBe(true)
    expect(metric({ type: "contains", text: "Ada" })("I am an assistant.", "Ada")).toBe(false)
    expect(metric({ type: "contains" })("The answer is Paris, France.", " Paris ")).toBe(true)
  })

  it("regex compares the first capture group of both, the same every time", () => {
    const gsm8k = metric({ type: "regex", pattern: "#### (-?[0-9.,]+)", flags: "g" })
    const reference = "Natalia sold 48/2 = 24 clips in May.\n#### 72"
    expect(gsm8k("so 48 + 24 = 72\n#### 72", reference)).toBe(true)
    expect(gsm8k("so 48 + 24 = 72\n#### 72", reference)).toBe(true)
    expect(gsm8k("#### 71", reference)).toBe(false)
    expect(gsm8k("72", reference)).toBe(false)
    expect(() => metric({ type: "regex", pattern: "(" })).toThrow(/metric.pattern/)
  })
})
