/**
 * End-to-end helpers: a copy of the fixture project in a temp dir (so tests can edit its files), and
 * the real CLI (`node bin/pipeline.js`) run inside it.
 */
import { spawn } from "node:child_process"
import type { ChildProcess } from "node:child_process"
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join, resolve } from "node:path"
import { fileURLToPath } from "node:url"

/** This checkout. */
export const repo = resolve(fileURLToPath(import.meta.url), "../../..")
const bin = join(repo, "bin", "pipeline.js")

export interface CliResult {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

export interface Project {
  readonly dir: string
  readonly store: string
  readonly counter: string
  /** Starts the CLI in the project; resolves when it exits. */
  readonly spawn: (args: ReadonlyArray<string>) => { child: ChildProcess; done: Promise<CliResult> }
  readonly cli: (...args: ReadonlyArray<string>) => Promise<CliResult>
  /** Stage computations recorded by the fixture stages, in order. */
  readonly computed: () => Array<string>
  readonly read: (path: string) => string
  readonly write: (path: string, text: string) => void
  readonly cleanup: () => void
}

/**
 * Starts this checkout's CLI in `cwd` (PIPELINE_STORE unset, so the store is `.pipeline/` there
 * unless `--store` says otherwise); `done` resolves when it exits, with `signal` if it was killed.
 */
export const spawnPipeline = (args: ReadonlyArray<string>, cwd: string, env: NodeJS.ProcessEnv = {}) => {
  const childEnv: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: "1", ...env }
  delete childEnv.PIPELINE_STORE
  const child = spawn(process.execPath, [bin, ...args], { cwd, env: childEnv, stdio: ["ignore", "pipe", "pipe"] })
  let stdout = ""
  let stderr = ""
  child.stdout!.on("data", (chunk) => (stdout += chunk))
  child.stderr!.on("data", (chunk) => (stderr += chunk))
  const done = new Promise<CliResult & { readonly signal: NodeJS.Signals | null }>((resolveDone) =>
    child.on("close", (code, signal) => resolveDone({ code, signal, stdout, stderr }))
  )
  return { child, done }
}

/** A fresh copy of test/engine/fixtures/project wired to this checkout's engine and node_modules. */
export const makeProject = (): Project => {
  const dir = mkdtempSync(join(tmpdir(), "pipeline-e2e-"))
  cpSync(join(repo, "test", "engine", "fixtures", "project"), dir, { recursive: true })
  symlinkSync(join(repo, "node_modules"), join(dir, "node_modules"))
  writeFileSync(join(dir, "engine.ts"), `export * from ${JSON.stringify(join(repo, "src", "index.ts"))}\n`)
  const counter = join(dir, "computed.log")
  const store = join(dir, ".pipeline")
  const spawnCli = (args: ReadonlyArray<string>) => spawnPipeline(args, dir, { PIPELINE_TEST_COUNTER: counter })
  return {
    dir,
    store,
    counter,
    spawn: spawnCli,
    cli: (...args) => spawnCli(args).done,
    computed: () => (existsSync(counter) ? readFileSync(counter, "utf8").split("\n").filter((l) => l !== "") : []),
    read: (path) => readFileSync(join(dir, path), "utf8"),
    write: (path, text) => writeFileSync(join(dir, path), text),
    cleanup: () => rmSync(dir, { recursive: true, force: true })
  }
}

/** A run record as stored (read straight from the store, to keep tests to as few CLI starts as possible). */
export interface StoredRun {
  readonly id: string
  readonly status: string
  readonly repairs?: ReadonlyArray<string>
  readonly external: ReadonlyArray<{ readonly artifact: StoredRef }>
  readonly stages: ReadonlyArray<{
    readonly id: string
    readonly status: string
    readonly key?: string
    readonly inputs?: Record<string, StoredRef | null>
    readonly outputs?: Record<string, StoredRef>
  }>
}

/** An artifact as a run record names it. */
export interface StoredRef {
  readonly digest: string
  readonly size: number
  readonly files?: ReadonlyArray<{ readonly path: string; readonly digest: string; readonly size: number }>
}

/** Run records in the store at `store`, oldest first. */
export const runsIn = (store: string): Array<StoredRun> => {
  const dir = join(store, "runs")
  return readdirSync(dir).filter((f) => f.endsWith(".json")).sort()
    .map((f) => JSON.parse(readFileSync(join(dir, f), "utf8")) as StoredRun)
}

/** Run records of a project's store, oldest first. */
export const runs = (project: Project): Array<StoredRun> => runsIn(project.store)

/** The newest run record. */
export const lastRun = (project: Project): StoredRun => runs(project).at(-1)!

/** The object file of a digest in the store at `store`. */
export const objectFile = (store: string, digest: string): string => join(store, "objects", "sha256", digest.slice(0, 2), digest)

/** Every object a run record names (external inputs, stage inputs and outputs, tree files). */
export const objectsOfRun = (run: StoredRun): Set<string> => {
  const out = new Set<string>()
  const add = (ref: StoredRef | null | undefined) => {
    if (ref === null || ref === undefined) return
    out.add(ref.digest)
    for (const file of ref.files ?? []) out.add(file.digest)
  }
  for (const external of run.external) add(external.artifact)
  for (const stage of run.stages) {
    for (const ref of Object.values(stage.inputs ?? {})) add(ref)
    for (const ref of Object.values(stage.outputs ?? {})) add(ref)
  }
  return out
}

/** Instance names by status in a run, e.g. `{ ran: ["upper"], hit: [...] }`. */
export const byStatus = (run: StoredRun): Record<string, Array<string>> => {
  const out: Record<string, Array<string>> = {}
  for (const stage of run.stages) (out[stage.status] ??= []).push(stage.id)
  return out
}

/** Output digests per stage instance. */
export const outputDigests = (run: StoredRun): Record<string, Record<string, string>> =>
  Object.fromEntries(run.stages.map((stage) => [
    stage.id,
    Object.fromEntries(Object.entries(stage.outputs ?? {}).map(([name, ref]) => [name, ref.digest]))
  ]))

/** Polls `condition` every 50 ms; fails naming `what` if it is still false after `timeoutMs`. */
export const waitFor = async (what: string, condition: () => boolean, timeoutMs: number): Promise<void> => {
  const end = Date.now() + timeoutMs
  while (!condition()) {
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}
