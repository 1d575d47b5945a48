/**
 * The CLI's reporting commands and its error contract: one clear line on stderr, a non-zero exit
 * code, no stack trace, for every user mistake.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { makeProject } from "./support.ts"
import type { CliResult, Project } from "./support.ts"

const expectUserError = (result: CliResult, pattern: RegExp) => {
  expect(result.code).toBe(1)
  const lines = result.stderr.trim().split("\n")
  expect(lines).toHaveLength(1)
  expect(lines[0]).toMatch(pattern)
  expect(result.stderr).not.toMatch(/\n\s+at /)
}

describe("pipeline CLI", () => {
  let project: Project
  beforeAll(async () => {
    project = makeProject()
    expect((await project.cli("run", "pipeline.ts")).code).toBe(0)
    expect((await project.cli("run", "pipeline.ts", "--set", "upper.suffix=?", "--force", "lines")).code).toBe(0)
  })
  afterAll(() => project.cleanup())

  it("ls, show and diff report runs as JSON", async () => {
    const [ls, show, diff] = await Promise.all([
      project.cli("ls", "--json"),
      project.cli("show", "last", "--json"),
      project.cli("diff", "last~1", "last", "--json")
    ])
    const listed = JSON.parse(ls.stdout) as Array<{ id: string; status: string; hits: number }>
    expect(listed.map((run) => run.status)).toEqual(["succeeded", "succeeded"])
    const shown = JSON.parse(show.stdout) as {
      id: string
      status: string
      stages: Array<{ name: string; key: string; hit: boolean; outputs: Record<string, string>; metrics: object; durationMs: number }>
    }
    expect(shown.id).toBe(listed[0]!.id)
    const hits = Object.fromEntries(shown.stages.map((stage) => [stage.name, stage.hit]))
    // --force recomputes lines (byte-identical output, so nothing below it reruns for that reason).
    expect(hits).toEqual({ lines: false, upper: false, stats: false, shards: true, merge: true, slow: false })
    for (const stage of shown.stages) {
      expect(stage.key).toMatch(/^[0-9a-f]{64}$/)
      for (const digest of Object.values(stage.outputs)) expect(digest).toMatch(/^[0-9a-f]{64}$/)
    }
    expect(shown.stages.find((stage) => stage.name === "stats")!.metrics).toEqual({ lines: 5, chars: 31 })
    const diffed = JSON.parse(diff.stdout) as { stages: Array<{ stage: string; sameKey: boolean }> }
    expect(Object.fromEntries(diffed.stages.map((s) => [s.stage, s.sameKey]))).toEqual({
      lines: true, upper: false, stats: false, shards: true, merge: true, slow: false
    })
  })

  it("resolves unique run id prefixes and inspects a stage through its own view", async () => {
    const id = (JSON.parse((await project.cli("ls", "--json")).stdout) as Array<{ id: string }>)[1]!.id
    const [shown, inspected] = await Promise.all([
      project.cli("show", id.slice(0, 17)),
      project.cli("inspect", "last", "upper", "--rows", "2")
    ])
    expect(shown.code).toBe(0)
    expect(shown.stdout).toContain(`run ${id}`)
    expect(inspected.stdout).toBe("ALPHA?\nBETA?\n")
  })

  it("gc --dry-run reports what it would remove and removes nothing; gc --keep 1 removes the old run", async () => {
    const dry = await project.cli("gc", "--keep", "1", "--dry-run")
    expect(dry.stdout).toMatch(/^gc: would remove \d+ objects .*, 1 runs, 3 stage records/)
    const real = await project.cli("gc", "--keep", "1")
    expect(real.stdout).toMatch(/^gc: removed \d+ objects .*, 1 runs, 3 stage records/)
    const after = await project.cli("run", "pipeline.ts", "--set", "upper.suffix=?")
    expect(after.stdout).toMatch(/6 cached, 0 ran/)
  })

  it("names file and line for a syntax error in the pipeline file", async () => {
    project.write("broken.ts", "import { definePipeline } from \"./engine.ts\"\n\nexport default definePipeline({ name: \"x\" }, (p) => {\n  p.add(\n})\n")
    expectUserError(await project.cli("run", "broken.ts"), /^error: broken\.ts:5:1: /)
  })

  it("names file and line for an exception thrown while building the pipeline", async () => {
    project.write("throws.ts", "import { definePipeline } from \"./engine.ts\"\n\nexport default definePipeline({ name: \"x\" }, () => {\n  throw new Error(\"no data\")\n})\n")
    expectUserError(await project.cli("run", "throws.ts"), /^error: throws\.ts:4:\d+: no data$/)
  })

  it("rejects a --set value of the wrong type with its path and the expected type", async () => {
    expectUserError(
      await project.cli("run", "pipeline.ts", "--set", "shards.size=two"),
      /^error: config \/shards\/size: Expected number.*, got "two"$/
    )
  })

  it("rejects unknown instances and keys, missing files, unknown runs, path-like run ids and duplicate instances", async () => {
    project.write("twice.ts", project.read("pipeline.ts").replace(
      "p.add(stats, { inputs: { rows: shouted.rows } })",
      "p.add(stats, { inputs: { rows: shouted.rows } })\n  p.add(stats, { inputs: { rows: split.lines } })"
    ))
    const line = project.read("twice.ts").split("\n").findIndex((l) => l.includes("split.lines } })")) + 1
    const [instance, key, missing, run, traversal, twice] = await Promise.all([
      project.cli("run", "pipeline.ts", "--set", "nope.x=1"),
      project.cli("run", "pipeline.ts", "--set", "upper.sufix=1"),
      project.cli("run", "missing.ts"),
      project.cli("show", "zzz"),
      project.cli("show", "../../etc/passwd"),
      project.cli("run", "twice.ts")
    ])
    expectUserError(instance, /^error: config nope\.x=1: no stage instance "nope"/)
    expectUserError(key, /^error: config \/upper\/sufix: Expected no excess property/)
    expectUserError(missing, /^error: missing\.ts: no such file$/)
    expectUserError(run, /^error: run zzz: no run with this id or prefix$/)
    expectUserError(traversal, /^error: run \.\.\/\.\.\/etc\/passwd: no run with this id or prefix$/)
    expectUserError(twice, new RegExp(`^error: twice\\.ts:${line}:\\d+: two stage instances are named "stats"`))
  })

  it("refuses a mis-wired pipeline at the p.add line, naming stage, input, expected and got; check adds TypeScript's error", async () => {
    project.write("miswired.ts", project.read("pipeline.ts").replace(
      "p.add(merge, { inputs: { shards: parts.shards } })",
      "p.add(merge, { inputs: { shards: parts.shards } })\n  p.add(stats, { name: \"wrong\", inputs: { rows: parts.shards } })"
    ))
    const line = project.read("miswired.ts").split("\n").findIndex((l) => l.includes("name: \"wrong\"")) + 1
    const wiring = `miswired\\.ts:${line}:\\d+: stage "wrong" \\(stats\\), input "rows": expects a table, got output "shards" of "shards", a directory \\(files\\)`
    const [run, checked, clean] = await Promise.all([project.cli("run", "miswired.ts"), project.cli("check", "miswired.ts"), project.cli("check", "pipeline.ts")])
    expectUserError(run, new RegExp(`^error: ${wiring}$`))
    expect(checked.code).toBe(1)
    const lines = checked.stderr.trim().split("\n")
    expect(lines[0]).toMatch(new RegExp(`^miswired\\.ts:${line}:\\d+: error TS2322: Type 'Handle<FilesSpec>' is not assignable`))
    expect(lines.at(-1)).toMatch(new RegExp(`^error: ${wiring}$`))
    expect(clean.stdout).toBe("pipeline.ts: ok (6 stages, 6 wires; types, wiring and configs check)\n")
  })

  it("says what is wrong with a --store that cannot be one", async () => {
    project.write("a-file", "x")
    expectUserError(await project.cli("ls", "--store", "a-file"), /^error: --store a-file: \/.*\/a-file is a file, not a directory$/)
    expectUserError(await project.cli("ls", "--store", "a-file/sub"), /^error: --store a-file\/sub: .*\/a-file\/sub cannot be created: .*\/a-file is a file$/)
  })

  it("reports a missing input file as its path", async () => {
    project.write("nofile.ts", project.read("pipeline.ts").replace("data/input.txt", "data/absent.txt"))
    const result = await project.cli("run", "nofile.ts")
    expect(result.code).toBe(1)
    expect(result.stderr).toMatch(/data\/absent\.txt: no such file or directory/)
  })
})
