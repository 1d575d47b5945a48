/**
 * Issue 2 acceptance: two `pipeline run` of the same pipeline started together both succeed, with
 * identical results and one computation per stage key (counted by the stages' side-effect file).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { makeProject, outputDigests, runs } from "./support.ts"
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
})
