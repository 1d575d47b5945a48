/**
 * Issue 2 acceptance: two `pipeline run` of the same pipeline started together both succeed, with
 * identical results and one computation per stage key (counted by the stages' side-effect file).
 * Also: SIGINT stops a run cleanly.
 */
import { readdirSync } from "node:fs"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { lastRun, makeProject, outputDigests, runs, waitFor } from "./support.ts"
import type { Project } from "./support.ts"

describe("concurrent runs", () => {
  let project: Project
  beforeAll(() => {
    project = makeProject()
  })
  afterAll(() => project.cleanup())

  it("share one computation per key and agree on every output", async () => {
    const args = ["run", "pipeline.ts", "--set", "slow.ms=1500"]
    const [a, b] = await Promise.all([project.cli(...args), project.cli(...args)])
    expect(a.code).toBe(0)
    expect(b.code).toBe(0)
    const computed = project.computed().filter((name) => !name.includes(":")).sort()
    expect(computed).toEqual(["lines", "merge", "shards", "slow", "stats", "upper"])
    const [first, second] = runs(project)
    expect(first!.status).toBe("succeeded")
    expect(second!.status).toBe("succeeded")
    expect(outputDigests(first!)).toEqual(outputDigests(second!))
  })

  it("stops cleanly on SIGINT: interrupted record, no scratch left, nothing committed for the stage", async () => {
    const starts = () => project.computed().filter((name) => name === "slow:start").length
    const before = starts()
    const { child, done } = project.spawn(["run", "pipeline.ts", "--set", "slow.ms=60000"])
    await waitFor("the slow stage to start", () => starts() > before, 60_000)
    child.kill("SIGINT")
    const result = await done
    expect(result.code).toBe(130)
    const run = lastRun(project)
    expect(run.status).toBe("interrupted")
    expect(run.stages.find((stage) => stage.id === "slow")!.status).toBe("interrupted")
    expect(readdirSync(join(project.store, "tmp"))).toEqual([])
  })
})
