/**
 * `pipeline run --sanity`: the TRL chapter's check before a full run. At most `sanityExamples`
 * rows, `sanitySteps` steps, then each stage's own view: decoded rows with their masks, the loss
 * trajectory with PASS or WARN, generated answers. Data that leaves nothing to train fails clearly.
 */
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import { pipelineCli } from "../support/cli.ts"

describe("a sanity run of the default pipeline", () => {
  const root = mkdtempSync(join(tmpdir(), "sanity-"))
  afterAll(() => rmSync(root, { recursive: true, force: true }))
  const cli = (...args: Array<string>) => pipelineCli([...args, "--store", join(root, "store")])

  it("trains 20 steps on the first rows and shows masks, the loss verdict and answers", async () => {
    const run = await cli("run", "pipelines/sft.ts", "--sanity", "--set", "load.sanityExamples=50")
    expect(run.code, run.stderr).toBe(0)
    const report = run.stdout.slice(run.stdout.indexOf("SANITY CHECK"))
    expect(report).toMatch(/── load ──\ntrain: 45 rows/)
    expect(report).toMatch(/validation: 5 rows/)
    expect(report).toMatch(/── tokenize ──[\s\S]*── row 0 \(identity\.json:\d+\): \d+ tokens, \d+ trained ──\n.*⟦.*⟪<\|end\|>⟫⟧/)
    expect(report).toMatch(/── train ──[\s\S]*\n +20 .*\nPASS loss \d+\.\d+ → \d+\.\d+ over 20 steps: decreasing/)
    expect(report).toMatch(/── evaluate ──[\s\S]*checkpoint-20:[\s\S]*reference "[\s\S]*\n  checkpoint-20: [✓✗] "/)
  }, 300_000)

  it("fails naming the row when truncation leaves no trained token, and train says where its rows went", async () => {
    const truncated = ["--sanity", "--set", "tokenize.maxSeqLength=3", "--set", "tokenize.truncation=right"]
    const failed = await cli("run", "pipelines/sft.ts", ...truncated)
    expect(failed.code).toBe(1)
    expect(failed.stderr).toMatch(/identity\.json:\d+: no trained tokens after truncation \(mode assistant_only\); set onEmpty: "skip"/)
    const skipped = await cli("run", "pipelines/sft.ts", ...truncated, "--set", "tokenize.onEmpty=skip")
    expect(skipped.code).toBe(1)
    expect(skipped.stderr).toContain("the train table has no rows: upstream, every example was dropped or had no trained token")
  }, 300_000)
})
