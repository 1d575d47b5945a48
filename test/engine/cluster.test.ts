/**
 * Issue 13 acceptance, beyond one machine: the engine's fixture pipeline with each stage as a job
 * of a real one-node Slurm cluster (`--executor slurm`) against a real S3 bucket (Ceph radosgw,
 * `--store s3://…`). Both servers are started once for this file and stopped afterwards.
 */
import { execFileSync } from "node:child_process"
import { readdirSync } from "node:fs"
import { join } from "node:path"
import { GetObjectCommand, PutObjectCommand } from "@aws-sdk/client-s3"
import { afterAll, beforeAll, expect, it } from "vitest"
import { clientFromEnv } from "../../src/store/S3Remote.ts"
import { requiredInCi } from "../support/optional.ts"
import { type Rgw, rgwMissing, startRgw } from "../support/rgw.ts"
import { type Slurm, slurmMissing, startSlurm } from "../support/slurm.ts"
import { byStatus, lastRun, makeProject, outputDigests, type Project, repo, runsIn, spawnPipeline, type StoredRun, waitFor } from "./support.ts"

const missing = [rgwMissing, slurmMissing].filter((reason) => reason !== undefined)
const describeCluster = requiredInCi(missing.length === 0, missing.join("; "))

const bucket = "cluster-test"

const ran = (run: StoredRun) => (byStatus(run).ran ?? []).sort()
const hit = (run: StoredRun) => (byStatus(run).hit ?? []).sort()

describeCluster("stages as Slurm jobs against an S3 bucket", () => {
  let rgw: Rgw | undefined
  let slurm: Slurm | undefined
  let project: Project
  beforeAll(async () => {
    rgw = await startRgw()
    await rgw.createBucket(bucket)
    slurm = await startSlurm()
    project = makeProject()
  })
  afterAll(async () => {
    project?.cleanup()
    await slurm?.stop()
    await rgw?.stop()
  })
  const cache = (name: string) => join(project.dir, "caches", name)
  const onCluster = (prefix: string, cacheName: string, ...args: ReadonlyArray<string>) =>
    ["run", "pipeline.ts", "--store", `s3://${bucket}/${prefix}`, "--cache", cache(cacheName), "--executor", "slurm", ...args]
  const lastIn = (cacheName: string) => runsIn(cache(cacheName)).at(-1)!
  const queued = () => execFileSync("squeue", ["-h", "-o", "%i %T"], { encoding: "utf8" }).trim()

  it("gives a local run's output digests; a second, empty cache against the bucket gets all hits and submits no job", async () => {
    const local = await project.cli("run", "pipeline.ts")
    expect(local.code, local.stderr).toBe(0)
    const localRun = lastRun(project)
    const computedLocally = project.computed().length

    const first = await project.cli(...onCluster("same", "a"))
    expect(first.code, first.stderr + first.stdout).toBe(0)
    expect(first.stdout).toMatch(/slurm job \d+ submitted/)
    const clusterRun = lastIn("a")
    expect(ran(clusterRun)).toEqual(ran(localRun))
    expect(outputDigests(clusterRun)).toEqual(outputDigests(localRun))
    // Every stage was computed once more, in its job.
    expect(project.computed().length).toBe(2 * computedLocally)

    const second = await project.cli(...onCluster("same", "b"))
    expect(second.code, second.stderr).toBe(0)
    expect(second.stdout).not.toContain("slurm job")
    const fromBucket = lastIn("b")
    expect(ran(fromBucket)).toEqual([])
    expect(outputDigests(fromBucket)).toEqual(outputDigests(localRun))
    expect(project.computed().length).toBe(2 * computedLocally)
  })

  // Two SFT runs: a minute alone on two vCPUs, several when the rest of the suite runs beside them.
  it("the SFT pipeline (--sanity) as Slurm jobs gives a local run's output digests", async () => {
    const store = join(project.dir, "sft-local")
    const local = spawnPipeline(["run", "pipelines/sft.ts", "--sanity", "--store", store], repo)
    const localDone = await local.done
    expect(localDone.code, localDone.stderr).toBe(0)
    const jobs = spawnPipeline(
      ["run", "pipelines/sft.ts", "--sanity", "--store", `s3://${bucket}/sft`, "--cache", cache("sft"), "--executor", "slurm"],
      repo
    )
    const jobsDone = await jobs.done
    expect(jobsDone.code, jobsDone.stderr + jobsDone.stdout.slice(-2000)).toBe(0)
    expect(jobsDone.stdout).toMatch(/\[train\] slurm job \d+ started/)
    const clusterRun = lastIn("sft")
    expect(ran(clusterRun)).toEqual(clusterRun.stages.map((stage) => stage.id).sort())
    expect(outputDigests(clusterRun)).toEqual(outputDigests(runsIn(store).at(-1)!))
    // train's scalars came back from its job: its curves are in the driver's TensorBoard folder.
    expect(readdirSync(join(cache("sft"), "runs", clusterRun.id, "train")).some((name) => name.includes("tfevents"))).toBe(true)
  }, 600_000)

  it("two drivers with their own caches on one bucket compute each key once", async () => {
    const before = project.computed().length
    const [a, b] = await Promise.all([project.cli(...onCluster("two", "f")), project.cli(...onCluster("two", "g"))])
    expect(a.code, a.stderr).toBe(0)
    expect(b.code, b.stderr).toBe(0)
    expect(outputDigests(lastIn("f"))).toEqual(outputDigests(lastIn("g")))
    const computed = project.computed().slice(before)
    expect(computed.length).toBeGreaterThan(0)
    expect(new Set(computed).size, computed.join(", ")).toBe(computed.length)
  })

  it("a flipped byte in an output in the bucket is caught by a run with an empty cache, which recomputes its producer", async () => {
    const first = await project.cli("run", "pipeline.ts", "--store", `s3://${bucket}/flip`, "--cache", cache("h"))
    expect(first.code, first.stderr).toBe(0)
    const made = lastIn("h")
    const upper = made.stages.find((stage) => stage.id === "upper")!.outputs!.rows!
    const key = `flip/objects/sha256/${upper.digest.slice(0, 2)}/${upper.digest}`
    const client = clientFromEnv()
    try {
      const stored = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }))
      const bytes = await stored.Body!.transformToByteArray()
      bytes[Math.floor(bytes.length / 2)]! ^= 0x01
      await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: bytes }))
    } finally {
      client.destroy()
    }
    const before = project.computed().length
    const healed = await project.cli("run", "pipeline.ts", "--store", `s3://${bucket}/flip`, "--cache", cache("i"))
    expect(healed.code, healed.stderr).toBe(0)
    expect(healed.stdout).toMatch(/upper.*content hashes to .*moved to its quarantine/)
    expect(project.computed().slice(before)).toEqual(["upper"])
    expect(outputDigests(lastIn("i"))).toEqual(outputDigests(made))
  })

  it("a stage that fails in its job fails the run with the job's exit code and the end of its output", async () => {
    const upper = project.read("stages/upper.ts")
    try {
      project.write(
        "stages/upper.ts",
        upper.replace("countRun(\"upper\")", "countRun(\"upper\"); console.log(\"upper is giving up\"); process.exit(3)")
      )
      const failed = await project.cli(...onCluster("failing", "c"))
      expect(failed.code).toBe(1)
      expect(failed.stderr).toMatch(/upper: slurm job \d+ FAILED \(exit code 3\); its output ended:/)
      expect(failed.stderr).toContain("upper is giving up")
      const run = lastIn("c")
      expect(run.status).toBe("failed")
      expect(run.stages.find((stage) => stage.id === "upper")?.status).toBe("failed")
    } finally {
      project.write("stages/upper.ts", upper)
    }
  })

  it("Ctrl-C cancels the driver's jobs; the rerun resumes from what the bucket holds", async () => {
    const args = onCluster("resume", "d", "--set", "slow.ms=6000")
    const before = project.computed().length
    const { child, done } = project.spawn(args)
    await waitFor("the slow stage to start in its job", () => project.computed().slice(before).includes("slow:start"), 60_000)
    child.kill("SIGINT")
    const interrupted = await done
    expect(interrupted.stderr).toContain("interrupted")
    await waitFor("the queue to empty", () => queued() === "", 10_000)
    const committed = lastIn("d")
    expect(ran(committed)).not.toContain("slow")
    // A fresh cache, so everything reused comes from the bucket.
    const resumed = await project.cli(...onCluster("resume", "e", "--set", "slow.ms=6000"))
    expect(resumed.code, resumed.stderr).toBe(0)
    const rerun = lastIn("e")
    // A job may commit between the driver's interruption and its scancel: the bucket holds at
    // least what the interrupted run recorded as committed.
    for (const id of [...ran(committed), ...hit(committed)]) expect(hit(rerun)).toContain(id)
    expect(ran(rerun)).toContain("slow")
    expect([...ran(rerun), ...hit(rerun)].sort()).toEqual(rerun.stages.map((stage) => stage.id).sort())
    // What the rerun found in the bucket was computed once, in the interrupted run; slow finished once, in the rerun.
    const computed = project.computed().slice(before)
    for (const id of hit(rerun)) expect(computed.filter((name) => name === id), id).toHaveLength(1)
    expect(computed.filter((name) => name === "slow")).toHaveLength(1)
  })
})
