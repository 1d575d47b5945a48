/**
 * Issue 2 acceptance, caching: what reruns after each kind of change, checked through real CLI runs
 * of the fixture project. Steps share one project and build on each other, so they run in order.
 */
import { utimesSync } from "node:fs"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { byStatus, lastRun, makeProject, outputDigests } from "./support.ts"
import type { Project } from "./support.ts"

const all = ["lines", "upper", "stats", "shards", "merge", "slow"]

describe("pipeline run caching", () => {
  let project: Project
  const run = async (...args: Array<string>) => {
    const before = project.computed().length
    const result = await project.cli("run", "pipeline.ts", ...args)
    expect(result.stderr).toBe("")
    expect(result.code).toBe(0)
    const record = lastRun(project)
    const computed = project.computed().slice(before).filter((name) => !name.includes(":"))
    // Side-effect counts and the run record agree on what ran.
    expect([...computed].sort()).toEqual([...(byStatus(record).ran ?? [])].sort())
    return { record, ran: [...(byStatus(record).ran ?? [])].sort(), result }
  }
  const explain = async () => {
    const result = await project.cli("explain", "last~1", "last", "--json")
    expect(result.code).toBe(0)
    return JSON.parse(result.stdout) as {
      stages: Array<{ stage: string; reasons: Array<{ kind: string; path: string; old?: string; new?: string }> }>
    }
  }

  beforeAll(() => {
    project = makeProject()
  })
  afterAll(() => project.cleanup())

  it("computes every stage on the first run", async () => {
    const { ran, result } = await run()
    expect(ran).toEqual([...all].sort())
    expect(result.stdout).toMatch(/succeeded in .*6 stages, 0 cached, 6 ran/)
  })

  it("recomputes nothing when nothing changed", async () => {
    const first = outputDigests(lastRun(project))
    const { ran, record } = await run()
    expect(ran).toEqual([])
    expect(outputDigests(record)).toEqual(first)
  })

  it("recomputes nothing after a comment edit in the pipeline file", async () => {
    project.write("pipeline.ts", project.read("pipeline.ts") + "\n// a comment that changes nothing\n")
    expect((await run()).ran).toEqual([])
  })

  it("reruns nothing when an input file is touched without changing its bytes", async () => {
    const future = new Date(Date.now() + 5_000)
    utimesSync(join(project.dir, "data", "input.txt"), future, future)
    expect((await run()).ran).toEqual([])
  })

  it("reruns exactly the changed stage and its downstream on a config change; explain names the path", async () => {
    expect((await run("--set", "upper.suffix=?")).ran).toEqual(["slow", "stats", "upper"])
    const explained = await explain()
    expect(explained.stages.map((s) => s.stage).sort()).toEqual(["slow", "stats", "upper"])
    const upper = explained.stages.find((s) => s.stage === "upper")!
    expect(upper.reasons).toEqual([{ kind: "config", path: "/upper/suffix", old: "\"!\"", new: "\"?\"" }])
    const stats = explained.stages.find((s) => s.stage === "stats")!
    expect(stats.reasons.map((r) => `${r.kind} ${r.path}`)).toEqual(["input rows"])
  })

  it("reruns the reading stage when the input's bytes change; explain names the input", async () => {
    project.write("data/input.txt", project.read("data/input.txt") + "zeta\n")
    expect((await run()).ran).toEqual([...all].sort())
    const lines = (await explain()).stages.find((s) => s.stage === "lines")!
    expect(lines.reasons.map((r) => `${r.kind} ${r.path}`)).toEqual(["input text"])
  })

  it("stops at an upstream change whose output is byte-identical", async () => {
    const before = outputDigests(lastRun(project))
    const { ran, record } = await run("--set", "lines.dedupe=true")
    expect(ran).toEqual(["lines"])
    expect(outputDigests(record).lines).toEqual(before.lines)
  })

  it("reruns a stage whose source changed, and its downstream when its output changed; explain names the file", async () => {
    project.write("stages/upper.ts", project.read("stages/upper.ts").replace("+ ctx.config.suffix", "+ ctx.config.suffix + \".\""))
    expect((await run()).ran).toEqual(["slow", "stats", "upper"])
    const upper = (await explain()).stages.find((s) => s.stage === "upper")!
    expect(upper.reasons).toEqual([{ kind: "code", path: "stages/upper.ts" }])
  })

  it("reruns every stage importing a local module that changed", async () => {
    project.write("stages/count.ts", project.read("stages/count.ts") + "\n// edited\n")
    expect((await run()).ran).toEqual([...all].sort())
    const explained = await explain()
    for (const stage of explained.stages) {
      expect(stage.reasons.map((r) => `${r.kind} ${r.path}`)).toContain("code stages/count.ts")
    }
  })
})
