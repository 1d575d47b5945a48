/**
 * Stage resources (src/Resources.ts): declared, overridden per run, validated with the field
 * named, turned into sbatch options, and never part of a key.
 */
import { Effect } from "effect"
import { afterAll, describe, expect, it } from "vitest"
import { parseOverride } from "../../src/runner/Config.ts"
import { sbatchResources } from "../../src/runner/SlurmExecutor.ts"
import { resourcesOf } from "../../src/Resources.ts"
import { makeProject } from "./support.ts"

const overrides = (...texts: ReadonlyArray<string>) => Effect.runPromise(Effect.forEach(texts, parseOverride))

describe("stage resources", () => {
  it("a run's --set overrides the stage's declaration, field by field, for its own instance only", async () => {
    const set = await overrides("train.resources.gpus=2", "train.resources.time=4:00:00", "eval.resources.cpus=8", "train.learningRate=1e-3")
    const resources = await Effect.runPromise(resourcesOf("train", { cpus: 4, gpus: 1, partition: "gpu" }, set))
    expect(resources).toEqual({ cpus: 4, gpus: 2, time: "4:00:00", partition: "gpu" })
    expect(sbatchResources(resources)).toEqual(["--cpus-per-task=4", "--gres=gpu:2", "--time=4:00:00", "--partition=gpu"])
    expect(sbatchResources({ gpus: 0, memory: "16G", account: "team-a" })).toEqual(["--mem=16G", "--account=team-a"])
  })

  it("rejects an unknown field, a bad value and a malformed override, naming where", async () => {
    const error = async (...texts: ReadonlyArray<string>) =>
      Effect.runPromise(Effect.flip(resourcesOf("train", undefined, await overrides(...texts))))
    expect(await error("train.resources.gpu=1")).toMatchObject({ path: "/train/resources/gpu" })
    expect(await error("train.resources.cpus=0")).toMatchObject({ path: "/train/resources/cpus" })
    expect((await error("train.resources.memory=lots")).message).toContain("a size such as 4G")
    expect((await error("train.resources=4")).message).toContain("expected --set <instance>.resources.<field>=<value>")
  })

  describe("in a run", () => {
    const project = makeProject()
    afterAll(() => project.cleanup())

    it("changing a stage's resources is a cache hit (resources are not in its key or config)", async () => {
      expect((await project.cli("run", "pipeline.ts")).code).toBe(0)
      const again = await project.cli("run", "pipeline.ts", "--set", "upper.resources.cpus=2", "--set", "slow.resources.gpus=1")
      expect(again.code, again.stderr).toBe(0)
      expect(again.stdout).toMatch(/6 stages, 6 cached, 0 ran/)
      const bad = await project.cli("run", "pipeline.ts", "--set", "nope.resources.cpus=2")
      expect(bad.code).toBe(1)
      expect(bad.stderr).toContain('no stage instance "nope"')
    })
  })
})
