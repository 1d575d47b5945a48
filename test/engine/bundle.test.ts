/**
 * The bundles the CLI and pipeline files run from (src/cli/Bundle.js): rebuilt exactly when a file
 * they were built from changes, each module keeping its own import.meta.url, the engine and Effect
 * shared with the running CLI rather than copied, and errors pointing at the source files.
 */
import { spawnSync } from "node:child_process"
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join, resolve } from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"
import * as effect from "effect"
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest"
import { bundle, changedSinceBundled, runBundle, sourceMapped } from "../../src/cli/Bundle.js"
import type { BundleOptions } from "../../src/cli/Bundle.js"
import { engineDir, publishSharedModules } from "../../src/cli/SharedModules.ts"
import * as engine from "../../src/index.ts"

const repo = resolve(fileURLToPath(import.meta.url), "../../..")
const engineEntry = join(repo, "src", "index.ts")

let dir: string
let cache: string
let count = 0
const previousCache = process.env.PIPELINE_CACHE
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "bundle-test-"))
})
beforeEach(() => {
  cache = join(dir, `cache-${count++}`)
  process.env.PIPELINE_CACHE = cache
})
afterAll(() => {
  if (previousCache === undefined) delete process.env.PIPELINE_CACHE
  else process.env.PIPELINE_CACHE = previousCache
  rmSync(dir, { recursive: true, force: true })
})

/** Writes the files into a fresh folder and returns the absolute path of the first. */
const project = (sources: Record<string, string>): string => {
  const folder = join(dir, `project-${count}`)
  mkdirSync(folder)
  for (const [name, text] of Object.entries(sources)) writeFileSync(join(folder, name), text)
  return join(folder, Object.keys(sources)[0]!)
}

const runBundled = async (entry: string, options?: BundleOptions) => runBundle(await bundle(entry, options), entry)

const manifestTime = (): number => {
  const manifest = readdirSync(cache).find((name) => name.endsWith(".json"))!
  return statSync(join(cache, manifest)).mtimeMs
}

describe("bundles", () => {
  it("are reused while their files are unchanged and rebuilt when an imported file changes", async () => {
    const entry = project({
      "entry.ts": "import { value } from \"./dep.ts\"\nexport const doubled: number = value * 2\n",
      "dep.ts": "export const value = 1\n"
    })
    const first = await bundle(entry)
    expect(runBundle(first, entry).doubled).toBe(2)
    const built = manifestTime()
    expect(await bundle(entry)).toBe(first)
    expect(manifestTime()).toBe(built)

    writeFileSync(join(entry, "..", "dep.ts"), "export const value = 21\n")
    const second = await bundle(entry)
    expect(second).not.toBe(first)
    expect(runBundle(second, entry).doubled).toBe(42)

    // What a bundle was built from, checked again later: the change is named.
    expect(changedSinceBundled(second)).toBeUndefined()
    writeFileSync(join(entry, "..", "dep.ts"), "export const value = 5\n")
    expect(changedSinceBundled(second)).toBe(join(entry, "..", "dep.ts"))

    // A rebuild keeps the bundle it replaces (a process may be about to run it), not older ones.
    const third = await bundle(entry)
    expect(runBundle(third, entry).doubled).toBe(10)
    const bundles = readdirSync(cache).filter((name) => name.endsWith(".cjs")).map((name) => join(cache, name))
    expect(bundles.sort()).toEqual([second, third].sort())
  })

  it("are rebuilt when a package they bundle is reinstalled with other contents", async () => {
    const entry = project({ "entry.ts": "export { version } from \"pkg\"\n" })
    const pkg = join(entry, "..", "node_modules", "pkg")
    mkdirSync(pkg, { recursive: true })
    writeFileSync(join(pkg, "package.json"), JSON.stringify({ name: "pkg", type: "module", exports: "./index.js" }))
    writeFileSync(join(pkg, "index.js"), "export const version = 1\n")
    expect((await runBundled(entry)).version).toBe(1)
    writeFileSync(join(pkg, "index.js"), "export const version = 22\n")
    expect((await runBundled(entry)).version).toBe(22)
  })

  it("keep each module's own import.meta.url", async () => {
    const entry = project({
      "entry.ts": "export { url as depUrl } from \"./dep.ts\"\nexport const url = import.meta.url\n",
      "dep.ts": "export const url = import.meta.url\n"
    })
    const exports = await runBundled(entry)
    expect(exports.url).toBe(pathToFileURL(entry).href)
    expect(exports.depUrl).toBe(pathToFileURL(join(entry, "..", "dep.ts")).href)
  })

  it("take Effect and the engine from the running CLI instead of copying them", async () => {
    const entry = project({
      "entry.ts": [
        "import { Effect, Schema } from \"effect\"",
        "import * as SchemaModule from \"effect/Schema\"",
        `import { defineStage } from ${JSON.stringify(engineEntry)}`,
        "export { Effect, Schema, SchemaModule, defineStage }"
      ].join("\n")
    })
    const exports = await runBundled(entry, { shared: publishSharedModules(), engineDir })
    expect(exports.Effect).toBe(effect.Effect)
    expect(exports.Schema).toBe(effect.Schema)
    // A namespace import gets esbuild's wrapper object around the very same members.
    expect((exports.SchemaModule as typeof effect.Schema).Struct).toBe(effect.Schema.Struct)
    expect(exports.defineStage).toBe(engine.defineStage)
  })

  it("refuse an engine module other than its public entry", async () => {
    const entry = project({ "entry.ts": `export { defineStage } from ${JSON.stringify(join(repo, "src", "Stage.ts"))}\n` })
    await expect(runBundled(entry, { shared: publishSharedModules(), engineDir })).rejects.toMatchObject({
      errors: [{ text: `import the engine through ${engineEntry}, not ${join(repo, "src", "Stage.ts")}` }]
    })
  })

  it("name file, line and column of code that does not compile", async () => {
    const entry = project({ "entry.ts": "export const a = 1\nexport const b = await Promise.resolve(2)\n" })
    await expect(bundle(entry)).rejects.toMatchObject({
      errors: [{ location: { file: expect.stringContaining("entry.ts"), line: 2, column: 17 } }]
    })
  })

  it("map stack positions back to the source file", async () => {
    const entry = project({
      "entry.ts": "type Unused = { a: number }\n\n// a comment\nexport const boom = (): never => {\n  throw new Error(\"boom\")\n}\n"
    })
    const exports = await runBundled(entry)
    let stack = ""
    try {
      ;(exports.boom as () => never)()
    } catch (error) {
      stack = (error as Error).stack ?? ""
    }
    expect(stack).not.toContain(`${entry}:`)
    expect(sourceMapped(stack)).toContain(`${entry}:5:9`)
  })

  it("leave V8's code cache beside the bundle when the process exits", () => {
    const entry = project({ "entry.ts": "export const answer: number = 42\n" })
    const script = `import { bundle, runBundle } from ${JSON.stringify(join(repo, "src", "cli", "Bundle.js"))}\n` +
      `console.log(runBundle(await bundle(${JSON.stringify(entry)}), ${JSON.stringify(entry)}).answer)`
    const result = spawnSync(process.execPath, ["--input-type=module", "-e", script], { encoding: "utf8", env: process.env })
    expect(result.stdout.trim()).toBe("42")
    const cached = readdirSync(cache).filter((name) => name.endsWith(".v8cache"))
    expect(cached).toHaveLength(1)
    expect(statSync(join(cache, cached[0]!)).size).toBeGreaterThan(0)
  })

  it("leave the code cache a second after start in a command that runs longer, before V8 drops idle bytecode", () => {
    const entry = project({ "entry.ts": "export const answer: number = 42\n" })
    const bundled = `${JSON.stringify(join(repo, "src", "cli", "Bundle.js"))}`
    // The child looks for its cache while it still runs, 1.5 s in, and only then exits.
    const script = `import { readdirSync } from "node:fs"\nimport { bundle, runBundle } from ${bundled}\n` +
      `runBundle(await bundle(${JSON.stringify(entry)}), ${JSON.stringify(entry)})\n` +
      `setTimeout(() => console.log(readdirSync(${JSON.stringify(cache)}).filter((n) => n.endsWith(".v8cache")).length), 1500)`
    const result = spawnSync(process.execPath, ["--input-type=module", "-e", script], { encoding: "utf8", env: process.env })
    expect(result.stdout.trim()).toBe("1")
  })
})
