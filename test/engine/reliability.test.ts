/**
 * The store's reliability suite (issue 8), through the real CLI:
 *
 *   (a) kill -9 at random (seeded) points of the example and SFT pipelines, each kill followed by a
 *       rerun whose outputs equal the uninterrupted run's digests, with `verify` clean;
 *   (b) `gc --keep 1` in a loop during an SFT run: the run succeeds with the uninterrupted digests,
 *       every object it references exists, `verify` is clean;
 *   (c) one byte flipped in each kind of object (table, blob, directory file, stored input,
 *       checkpoint, stage record, run record): the next plain run says what it found and did, and
 *       finishes with the uninterrupted digests; also a flip that keeps size and mtime (caught when
 *       a stage reads the object, whose producer is recomputed in the same run) and a source that
 *       changed under an unchanged stat (named as such).
 *
 * (d) a cycle refused in under a second: wiring.test.ts; (e) a mis-wired pipeline named at its
 * file:line, stage and input: cli.test.ts; (f) a package version in exactly the keys of the stages
 * importing it: codeDigest.test.ts. The figures are printed, one `reliability …` line per part.
 */
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { lastRun, makeProject, objectFile, objectsOfRun, outputDigests, repo, runsIn, spawnPipeline, waitFor } from "./support.ts"
import type { Project, StoredRun } from "./support.ts"

const example = join(repo, "pipelines", "example.ts")
const sft = join(repo, "pipelines", "sft.ts")
/** A short SFT run that checkpoints: 12 optimizer steps, a checkpoint every 4. */
const sftArgs = ["--sanity", "--set", "train.sanitySteps=12", "--set", "train.saveSteps=4"]

/** mulberry32: kill points that differ from each other and are the same in every run of the suite. */
const random = (seed: number) => () => {
  seed = (seed + 0x6d2b79f5) >>> 0
  let t = seed
  t = Math.imul(t ^ (t >>> 15), t | 1)
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

const temps: Array<string> = []
const tempStore = () => {
  const dir = mkdtempSync(join(tmpdir(), "reliability-"))
  temps.push(dir)
  return join(dir, "store")
}
afterAll(() => {
  for (const dir of temps) rmSync(dir, { recursive: true, force: true })
})

const run = (pipeline: string, store: string, extra: ReadonlyArray<string> = []) =>
  spawnPipeline(["run", pipeline, "--store", store, ...extra], repo)

const completed = async (pipeline: string, store: string, extra: ReadonlyArray<string> = []) => {
  const result = await run(pipeline, store, extra).done
  if (result.code !== 0) throw new Error(`run failed (${result.code}): ${result.stdout}\n${result.stderr}`)
  return result
}

const verified = async (store: string) => {
  const result = await spawnPipeline(["verify", "--store", store], repo).done
  expect(result.stdout + result.stderr).toMatch(/^verified /)
  expect(result.code).toBe(0)
}

/** Flips one bit in the middle of `file`; `keepStat` restores its mtime so only a full hash sees it. */
const flip = (file: string, options: { readonly keepStat?: boolean } = {}) => {
  const before = statSync(file)
  chmodSync(file, 0o644)
  const bytes = readFileSync(file)
  bytes[Math.floor(bytes.length / 2)] ^= 0x04
  writeFileSync(file, bytes)
  if (options.keepStat === true) utimesSync(file, before.atime, before.mtime)
  chmodSync(file, before.mode & 0o777)
}

/** Sets a file's times a minute back, so its next hash is not racy and the stat cache trusts it after. */
const age = (file: string) => {
  const past = new Date(Date.now() - 60_000)
  utimesSync(file, past, past)
}

describe("reliability", () => {
  let sftReference: { readonly store: string; readonly digests: ReturnType<typeof outputDigests>; readonly ms: number }
  beforeAll(async () => {
    const store = tempStore()
    const started = Date.now()
    await completed(sft, store, sftArgs)
    sftReference = { store, digests: outputDigests(runsIn(store).at(-1)!), ms: Date.now() - started }
  }, 600_000)

  it("(a) survives kill -9 at random points of the example pipeline, each rerun equal to the uninterrupted run", async () => {
    const reference = tempStore()
    const started = Date.now()
    await completed(example, reference)
    const span = (Date.now() - started) * 1.1
    const expected = outputDigests(runsIn(reference).at(-1)!)
    const next = random(8)
    const killedAt: Array<number> = []
    for (let attempt = 0; killedAt.length < 16 && attempt < 40; attempt++) {
      const store = tempStore()
      const delay = Math.round(next() * span)
      const { child, done } = run(example, store)
      await sleep(delay)
      child.kill("SIGKILL")
      if ((await done).signal === "SIGKILL") killedAt.push(delay)
      await completed(example, store)
      expect(outputDigests(runsIn(store).at(-1)!)).toEqual(expected)
      await verified(store)
    }
    expect(killedAt.length).toBe(16)
    console.log(`reliability (a) example: ${killedAt.length} kills survived at ${killedAt.join(", ")} ms after start (run ${Math.round(span / 1.1)} ms)`)
  }, 900_000)

  it("(a) survives kill -9 at random points of the SFT pipeline, resuming train from its checkpoints", async () => {
    const store = tempStore()
    await completed(sft, store, sftArgs)
    const next = random(42)
    const killedAt: Array<number> = []
    let resumed = 0
    // Kill points are drawn over the length of a forced run, learnt from the runs that ended first.
    let span = sftReference.ms
    for (let attempt = 0; killedAt.length < 5 && attempt < 12; attempt++) {
      // --force train recomputes train from scratch, so every kill lands in a fresh run of it.
      const delay = Math.round(500 + next() * (span - 500))
      const started = Date.now()
      const { child, done } = run(sft, store, [...sftArgs, "--force", "train"])
      let ended = 0
      void done.then(() => (ended = Date.now() - started))
      await sleep(delay)
      child.kill("SIGKILL")
      if ((await done).signal !== "SIGKILL") {
        span = Math.max(1000, Math.min(span, ended) * 0.9)
        continue
      }
      killedAt.push(delay)
      const rerun = await completed(sft, store, sftArgs)
      if (rerun.stdout.includes("resumed from the checkpoint of step")) resumed += 1
      expect(outputDigests(runsIn(store).at(-1)!)).toEqual(sftReference.digests)
      await verified(store)
    }
    expect(killedAt.length).toBe(5)
    expect(resumed).toBeGreaterThan(0)
    // A run killed before it wrote its first record leaves none; every other shows as interrupted.
    const listed = JSON.parse((await spawnPipeline(["ls", "--json", "--store", store], repo).done).stdout) as Array<{ status: string }>
    const interrupted = listed.filter((row) => row.status === "interrupted").length
    expect(interrupted).toBeGreaterThan(0)
    expect(interrupted).toBeLessThanOrEqual(killedAt.length)
    expect(listed.filter((row) => row.status === "running").length).toBe(0)
    console.log(`reliability (a) sft: ${killedAt.length} kills survived at ${killedAt.join(", ")} ms after start, ${resumed} reruns resumed train from a checkpoint; ls shows ${interrupted} interrupted runs, none running`)
  }, 900_000)

  it("(c) a train checkpoint with a flipped exponent bit is discarded with a warning and train resumes from the one before", async () => {
    const store = tempStore()
    await completed(sft, store, sftArgs)
    const { child, done } = run(sft, store, [...sftArgs, "--force", "train"])
    const checkpoints = join(store, "checkpoints")
    const steps = () => (existsSync(checkpoints) ? readdirSync(checkpoints).flatMap((key) => readdirSync(join(checkpoints, key)).map((step) => join(checkpoints, key, step))) : [])
    await waitFor("two train checkpoints", () => steps().length >= 2, 300_000)
    child.kill("SIGKILL")
    await done
    const newest = steps().sort((a, b) => Number(a.split("/").at(-1)) - Number(b.split("/").at(-1))).at(-1)!
    const state = join(newest, "files", "state.safetensors")
    const bytes = readFileSync(state)
    const data = 8 + Number(bytes.readBigUInt64LE(0))
    // The high byte of the first float (little-endian): one of its exponent bits.
    bytes[data + 3] ^= 0x40
    chmodSync(state, 0o644)
    writeFileSync(state, bytes)
    const rerun = await completed(sft, store, sftArgs)
    const step = Number(newest.split("/").at(-1))
    expect(rerun.stdout).toMatch(new RegExp(`\\[train\\] warning: checkpoint of step ${step}: state\\.safetensors hashes to .*; moved to quarantine/; resuming from the checkpoint of step ${step - 4}`))
    expect(rerun.stdout).toContain(`resumed from the checkpoint of step ${step - 4}`)
    expect(outputDigests(runsIn(store).at(-1)!)).toEqual(sftReference.digests)
    await verified(store)
    console.log(`reliability (c) train checkpoint: an exponent bit flipped in the step-${step} state was found, the checkpoint discarded, train resumed from step ${step - 4} and ended with the uninterrupted digests`)
  }, 900_000)

  // --keep 1: the run is the newest, so its record is kept even once it has ended (a gc still
  // running then may see it finished); everything it wrote before its record named it is only pinned.
  it("(b) gc --keep 1 in a loop during an SFT run: the run succeeds, every object it names exists, verify is clean", async () => {
    const store = tempStore()
    // Garbage for gc to find: a finished run of another pipeline, which --keep 1 drops.
    await completed(example, store)
    const { done } = run(sft, store, sftArgs)
    let finished = false
    void done.then(() => (finished = true))
    let iterations = 0
    let removed = 0
    while (!finished) {
      const gc = await spawnPipeline(["gc", "--keep", "1", "--store", store], repo).done
      expect(gc.code).toBe(0)
      iterations += 1
      removed += Number(/removed (\d+) objects/.exec(gc.stdout)?.[1] ?? 0)
    }
    const result = await done
    expect(result.code).toBe(0)
    const last = runsIn(store).at(-1)!
    expect(outputDigests(last)).toEqual(sftReference.digests)
    const missing = [...objectsOfRun(last)].filter((digest) => !existsSync(objectFile(store, digest)))
    expect(missing).toEqual([])
    await verified(store)
    expect(iterations).toBeGreaterThan(3)
    console.log(`reliability (b): ${iterations} gc --keep 1 runs during one SFT run removed ${removed} objects; the run succeeded with the uninterrupted digests, all ${objectsOfRun(last).size} objects it names exist, verify clean`)
  }, 900_000)

  describe("(c) a flipped byte in each kind of object is found and healed by the next plain run", () => {
    let project: Project
    let reference: StoredRun
    const healed: Array<string> = []
    beforeAll(async () => {
      project = makeProject()
      expect((await project.cli("run", "pipeline.ts")).code).toBe(0)
      reference = lastRun(project)
    }, 300_000)
    afterAll(() => {
      console.log(`reliability (c): flips detected and healed: ${healed.join("; ")}`)
      project.cleanup()
    })

    const output = (stage: string, name: string) => reference.stages.find((s) => s.id === stage)!.outputs![name]!
    const plainRun = async () => {
      const before = project.computed().length
      const result = await project.cli("run", "pipeline.ts")
      expect(result.code).toBe(0)
      expect(outputDigests(lastRun(project))).toEqual(outputDigests(reference))
      await verified(project.store)
      return { stdout: result.stdout, computed: project.computed().slice(before).filter((name) => !name.includes(":")) }
    }

    const cases: ReadonlyArray<{ kind: string; file: () => string; says: RegExp; recomputes: ReadonlyArray<string> }> = [
      {
        kind: "table",
        file: () => objectFile(project.store, output("upper", "rows").digest),
        says: /warning: output rows: object [0-9a-f]{12}…: content hashes to [0-9a-f]{12}…; moved to quarantine\/; recomputing it/,
        recomputes: ["upper"]
      },
      {
        kind: "blob",
        file: () => objectFile(project.store, output("stats", "report").digest),
        says: /\[stats\] warning: output report: object [0-9a-f]{12}…: content hashes to/,
        recomputes: ["stats"]
      },
      {
        kind: "directory file",
        file: () => objectFile(project.store, output("shards", "shards").files![1]!.digest),
        says: /\[shards\] warning: output shards: object [0-9a-f]{12}…: content hashes to/,
        recomputes: ["shards"]
      },
      {
        kind: "stored input",
        file: () => objectFile(project.store, reference.external[0]!.artifact.digest),
        says: /warning: .*data\/input\.txt: its stored copy was corrupt \(object [0-9a-f]{12}…: content hashes to .*\); imported again/,
        recomputes: []
      },
      {
        kind: "stage record",
        file: () => join(project.store, "stages", `${reference.stages.find((s) => s.id === "upper")!.key!}.json`),
        says: /\[upper\] warning: its stage record stages\/[0-9a-f]{64}\.json: its text hashes to [0-9a-f]{12}…, the seal says [0-9a-f]{12}…; moved to quarantine\/; recomputing it/,
        recomputes: ["upper"]
      },
      {
        kind: "run record",
        file: () => join(project.store, "runs", `${lastRun(project).id}.json`),
        says: /\[store\] warning: run record runs\/[0-9a-z-]+\.json: its text hashes to .*; moved to quarantine\//,
        recomputes: []
      }
    ]
    for (const { kind, file, says, recomputes } of cases) {
      it(kind, async () => {
        flip(file())
        const { stdout, computed } = await plainRun()
        expect(stdout).toMatch(says)
        expect(computed).toEqual(recomputes)
        expect(lastRun(project).repairs?.length).toBe(1)
        healed.push(`${kind}: detected, ${recomputes.length === 0 ? "no stage recomputed" : `${recomputes.join(", ")} recomputed`}`)
      })
    }

    it("checkpoint: the damaged newest checkpoint is discarded and train-like resume starts from the one before", async () => {
      const clean = makeProject()
      try {
        expect((await clean.cli("run", "checkpointed.ts", "--set", "steps.ms=400")).code).toBe(0)
        const expected = outputDigests(lastRun(clean))
        const { child, done } = project.spawn(["run", "checkpointed.ts", "--set", "steps.ms=400"])
        await waitFor("checkpoint 3 to be saved", () => project.computed().includes("steps:saved:3"), 120_000)
        child.kill("SIGKILL")
        await done
        const key = lastRun(project).stages.find((s) => s.id === "steps")!.key!
        const newest = Math.max(...readdirSync(join(project.store, "checkpoints", key)).map(Number))
        flip(join(project.store, "checkpoints", key, String(newest), "files", "state.json"))
        const before = project.computed().length
        const result = await project.cli("run", "checkpointed.ts", "--set", "steps.ms=400")
        expect(result.code).toBe(0)
        expect(result.stdout).toMatch(new RegExp(
          `\\[steps\\] warning: checkpoint of step ${newest}: state\\.json hashes to [0-9a-f]{12}… \\(\\d+ bytes\\), ` +
            `its manifest says [0-9a-f]{12}… \\(\\d+ bytes\\); moved to quarantine/; resuming from the checkpoint of step ${newest - 1}`
        ))
        expect(project.computed().slice(before)).toContain(`steps:resume:${newest - 1}`)
        expect(outputDigests(lastRun(project))).toEqual(expected)
        await verified(project.store)
        healed.push("checkpoint: detected, discarded, resumed from the step before")
      } finally {
        clean.cleanup()
      }
    })

    it("a flip that keeps size and mtime passes the stat check of a hit but not the read of a stage, which recomputes its producer", async () => {
      const rows = objectFile(project.store, output("upper", "rows").digest)
      age(rows)
      await plainRun()
      flip(rows, { keepStat: true })
      const before = project.computed().length
      const result = await project.cli("run", "pipeline.ts", "--set", "slow.ms=1")
      expect(result.code).toBe(0)
      expect(result.stdout).toMatch(/\[slow\] warning: input rows \(upper\.rows\): object [0-9a-f]{12}…: content hashes to .*; producing it again/)
      expect(project.computed().slice(before).filter((name) => !name.includes(":"))).toEqual(["upper", "slow"])
      expect(lastRun(project).stages.find((s) => s.id === "upper")!.outputs!.rows!.digest).toBe(output("upper", "rows").digest)
      await verified(project.store)
      healed.push("table read by a stage (stat unchanged): detected on read, producer recomputed in the same run")
    })

    it("a source that changed under an unchanged stat is named as changed when its damaged copy is imported again", async () => {
      const source = join(project.dir, "data", "input.txt")
      const copy = objectFile(project.store, reference.external[0]!.artifact.digest)
      age(source)
      age(copy)
      await plainRun()
      const stat = statSync(source)
      writeFileSync(source, readFileSync(source, "utf8").replace("alpha", "alpho"))
      utimesSync(source, stat.atime, stat.mtime)
      flip(copy, { keepStat: true })
      const forced = await project.cli("run", "pipeline.ts", "--set", "lines.dedupe=true")
      expect(forced.code).toBe(1)
      expect(forced.stdout).toMatch(/input\.txt changed since it was last imported although its size, modification time and inode did not/)
      expect(forced.stderr).toMatch(/lines: input text: data\/input\.txt now gives [0-9a-f]{12} instead of [0-9a-f]{12}, which this run's keys were computed from \(the source changed\); run again/)
      const again = await project.cli("run", "pipeline.ts")
      expect(again.code).toBe(0)
      expect(lastRun(project).external[0]!.artifact.digest).not.toBe(reference.external[0]!.artifact.digest)
      await verified(project.store)
      healed.push("stored input read by a stage whose source changed: detected, re-imported, the change named")
    })
  })
})
