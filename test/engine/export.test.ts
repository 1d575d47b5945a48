/**
 * `pipeline export`: a finished stage's outputs copied out of the store byte for byte, one
 * directory output filling the target, tables and blobs named by output; a corrupt object is
 * refused and leaves nothing behind; a non-empty target needs --force.
 */
import { createHash } from "node:crypto"
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import * as arrow from "apache-arrow"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { lastRun, makeProject } from "./support.ts"
import type { Project } from "./support.ts"

const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex")
const objectFile = (project: Project, digest: string) => join(project.store, "objects", "sha256", digest.slice(0, 2), digest)

describe("pipeline export", () => {
  let project: Project
  beforeAll(async () => {
    project = makeProject()
    expect((await project.cli("run", "pipeline.ts")).code).toBe(0)
  })
  afterAll(() => project.cleanup())

  it("writes a directory output as the target's tree and a table as <output>.arrow, every file as stored", async () => {
    const shards = join(project.dir, "out-shards")
    const result = await project.cli("export", "last", shards, "--stage", "shards")
    expect(result.code, result.stderr).toBe(0)
    expect(result.stdout).toMatch(/exported 3 files .* of shards from run/)
    expect(readdirSync(join(shards, "part")).sort()).toEqual(["000.txt", "001.txt", "002.txt"])
    const stage = lastRun(project).stages.find((s) => s.id === "shards")!
    const listing = JSON.parse(readFileSync(objectFile(project, stage.outputs!.shards!.digest), "utf8")) as { files: Array<{ path: string; digest: string }> }
    for (const file of listing.files) expect(sha256(readFileSync(join(shards, file.path)))).toBe(file.digest)

    const lines = join(project.dir, "out-lines")
    expect((await project.cli("export", "last", lines, "--stage", "lines")).code).toBe(0)
    const table = arrow.tableFromIPC(readFileSync(join(lines, "lines.arrow")))
    expect(table.numRows).toBeGreaterThan(0)
  })

  it("refuses a corrupt object and leaves no directory", async () => {
    const stage = lastRun(project).stages.find((s) => s.id === "merge")!
    const file = objectFile(project, stage.outputs!.text!.digest)
    const bytes = readFileSync(file)
    bytes[0] = bytes[0]! ^ 0x01
    chmodSync(file, 0o644)
    writeFileSync(file, bytes)
    const target = join(project.dir, "out-merge")
    const result = await project.cli("export", "last", target, "--stage", "merge")
    expect(result.code).toBe(1)
    expect(result.stderr).toMatch(/text: the stored object .* is corrupt .*nothing was exported/)
    expect(existsSync(target)).toBe(false)
  })

  it("needs --force for a non-empty directory and names unknown or unfinished stages", async () => {
    const target = join(project.dir, "occupied")
    mkdirSync(target)
    writeFileSync(join(target, "keep.txt"), "mine")
    const refused = await project.cli("export", "last", target, "--stage", "lines")
    expect(refused.stderr).toContain("is not empty; pass --force")
    expect(readFileSync(join(target, "keep.txt"), "utf8")).toBe("mine")
    expect((await project.cli("export", "last", target, "--stage", "lines", "--force")).code).toBe(0)
    expect(readdirSync(target)).toEqual(["lines.arrow"])
    const unknown = await project.cli("export", "last", join(project.dir, "x"))
    expect(unknown.stderr).toMatch(/has no stage "export" \(stages: lines, .*\); choose one with --stage/)
  })
})
