/**
 * Issue 2 acceptance, crash safety: `kill -9` in the middle of a stage leaves no visible partial
 * artifact; the next run completes without recomputing committed stages and `verify` is clean.
 * Also: a corrupted object is found by `verify` and recomputed by the next run.
 */
import { chmodSync, existsSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { byStatus, lastRun, makeProject, runs, waitFor } from "./support.ts"
import type { Project } from "./support.ts"

describe("crash safety and corruption", () => {
  let project: Project
  beforeAll(() => {
    project = makeProject()
  })
  afterAll(() => project.cleanup())

  it("resumes after kill -9 in the middle of a stage, recomputing only what was not committed", async () => {
    const { child, done } = project.spawn(["run", "pipeline.ts", "--set", "slow.ms=60000"])
    await waitFor("the slow stage to start", () => project.computed().includes("slow:start"), 60_000)
    child.kill("SIGKILL")
    const killed = await done
    expect(killed.code).toBe(null)

    const crashed = lastRun(project)
    expect(crashed.status).toBe("running")
    const slowKey = crashed.stages.find((s) => s.id === "slow")!.key!
    expect(slowKey).toMatch(/^[0-9a-f]{64}$/)
    // The stage record is the commit point: the killed stage has none.
    expect(existsSync(join(project.store, "stages", `${slowKey}.json`))).toBe(false)
    const committed = crashed.stages.filter((s) => s.status === "ran").map((s) => s.id)
    expect(committed).toContain("upper")

    const before = project.computed()
    const resumed = await project.cli("run", "pipeline.ts", "--set", "slow.ms=300")
    expect(resumed.code).toBe(0)
    const again = project.computed().slice(before.length).filter((name) => !name.includes(":"))
    for (const stage of committed) expect(again).not.toContain(stage)
    expect(again).toContain("slow")
    expect(byStatus(lastRun(project)).ran).toContain("slow")

    const verified = await project.cli("verify")
    expect(verified.code).toBe(0)
    expect(verified.stdout).toMatch(/^verified \d+ objects/)
  })

  it("finds a corrupted object with verify and recomputes it on the next run", async () => {
    const run = lastRun(project)
    const digest = run.stages.find((s) => s.id === "upper")!.outputs!.rows!.digest
    const object = join(project.store, "objects", "sha256", digest.slice(0, 2), digest)
    chmodSync(object, 0o644)
    writeFileSync(object, "corrupted bytes that hash to something else")
    const verified = await project.cli("verify")
    expect(verified.code).toBe(1)
    expect(verified.stdout).toContain(`corrupt object ${digest}: content hashes to`)

    const before = project.computed().length
    const rerun = await project.cli("run", "pipeline.ts", "--set", "slow.ms=300")
    expect(rerun.code).toBe(0)
    expect(project.computed().slice(before)).toEqual(["upper"])
    expect(lastRun(project).stages.find((s) => s.id === "upper")!.outputs!.rows!.digest).toBe(digest)
    expect((await project.cli("verify")).code).toBe(0)
    expect(runs(project).length).toBe(3)
  })
})
