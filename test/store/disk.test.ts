/**
 * Properties only the disk store has: its layout, read-only objects, corruption on disk, crashes
 * (a child process killed with SIGKILL mid-put), several processes sharing one store, stale locks
 * and tmp/ leftovers.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process"
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, truncateSync, utimesSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import * as NodeServices from "@effect/platform-node/NodeServices"
import { Effect, Fiber, Layer, Option } from "effect"
import type { Scope } from "effect"
import { afterAll, afterEach, describe, expect, it } from "vitest"
import { layerDisk } from "../../src/store/DiskStore.ts"
import * as Owners from "../../src/store/Owner.ts"
import { Store } from "../../src/store/Store.ts"
import { runWith, sha256sum, tempDir } from "./support.ts"

const worker = fileURLToPath(new URL("./child/worker.ts", import.meta.url))
const repoRoot = fileURLToPath(new URL("../..", import.meta.url))

const startWorker = (...args: Array<string>): ChildProcess =>
  spawn(process.execPath, ["--import", "tsx", worker, ...args], { cwd: repoRoot, stdio: ["ignore", "pipe", "pipe"] })

const finished = (child: ChildProcess): Promise<string> =>
  new Promise((resolve, reject) => {
    let stdout = ""
    let stderr = ""
    child.stdout!.on("data", (chunk) => (stdout += chunk))
    child.stderr!.on("data", (chunk) => (stderr += chunk))
    child.on("exit", (code) => (code === 0 ? resolve(stdout) : reject(new Error(`worker exited ${code}: ${stderr}`))))
  })

/** A worker whose exit and stderr are tracked, so that waiting on it stops when it dies. */
interface Watched {
  readonly child: ChildProcess
  /** Resolves when the worker has exited and its output is closed. */
  readonly closed: Promise<void>
  /** Polls `condition` every `intervalMs` while the worker runs; fails with its stderr if it exits first. */
  readonly waitFor: (what: string, condition: () => boolean, intervalMs: number) => Promise<void>
}

const watch = (child: ChildProcess): Watched => {
  let stderr = ""
  let exit: string | undefined
  child.stdout!.resume()
  child.stderr!.on("data", (chunk) => (stderr += chunk))
  const closed = new Promise<void>((resolve) =>
    child.on("close", (code, signal) => {
      exit = signal ?? `code ${code}`
      resolve()
    })
  )
  const waitFor = async (what: string, condition: () => boolean, intervalMs: number): Promise<void> => {
    while (!condition()) {
      if (exit !== undefined) throw new Error(`worker exited (${exit}) before ${what}:\n${stderr}`)
      await new Promise((resolve) => setTimeout(resolve, intervalMs))
    }
  }
  return { child, closed, waitFor }
}

/** A pid that certainly belonged to a process which has exited. */
const deadPid = (): number => spawnSync(process.execPath, ["-e", ""]).pid!

const listTree = (dir: string): Array<string> =>
  existsSync(dir) ? readdirSync(dir, { recursive: true, encoding: "utf8" }).sort() : []

const objectFiles = (root: string): Array<string> =>
  listTree(join(root, "objects", "sha256")).filter((entry) => /^[0-9a-f]{2}\/[0-9a-f]{64}$/.test(entry))

describe("disk store", () => {
  let temp = tempDir("disk")
  afterEach(() => {
    temp.cleanup()
    temp = tempDir("disk")
  })
  afterAll(() => temp.cleanup())
  const root = () => join(temp.dir, "store")
  const run = <A, E>(effect: Effect.Effect<A, E, Store | Scope.Scope | NodeServices.NodeServices>) =>
    runWith(layerDisk(root()).pipe(Layer.provide(NodeServices.layer)))(effect)

  it("lays objects and documents out as documented, read-only, with nothing left in tmp/", async () => {
    const source = join(temp.dir, "data.bin")
    writeFileSync(source, "hello store")
    const ref = await run(
      Effect.gen(function* () {
        const store = yield* Store
        yield* store.putDocument("stages", "k1", { outputs: ["x"] })
        yield* store.putBytes(new TextEncoder().encode("doc"))
        return yield* store.putFile(source)
      })
    )
    const objectFile = join(root(), "objects", "sha256", ref.digest.slice(0, 2), ref.digest)
    expect(ref.digest).toBe(sha256sum(source))
    expect(readFileSync(objectFile, "utf8")).toBe("hello store")
    expect(statSync(objectFile).mode & 0o222).toBe(0)
    expect(JSON.parse(readFileSync(join(root(), "stages", "k1.json"), "utf8"))).toEqual({ outputs: ["x"] })
    expect(listTree(join(root(), "tmp"))).toEqual([])
  })

  it("putFile with move of an object's own path keeps the object", async () => {
    const result = await run(
      Effect.gen(function* () {
        const store = yield* Store
        const ref = yield* store.putBytes(new TextEncoder().encode("self"))
        const again = yield* store.putFile(store.objectPath(ref.digest), { move: true })
        return { ref, again, has: yield* store.hasObject(ref) }
      })
    )
    expect(result.again).toEqual(result.ref)
    expect(result.has).toBe(true)
  })

  it("finds a corrupted object on read, on verify and in verifyAll, and quarantines it", async () => {
    const result = await run(
      Effect.gen(function* () {
        const store = yield* Store
        const flipped = yield* store.putBytes(new Uint8Array(1 << 20).fill(7))
        const truncated = yield* store.putBytes(new Uint8Array(5000).fill(9))
        const healthy = yield* store.putBytes(new Uint8Array(10).fill(1))
        const flippedFile = store.objectPath(flipped.digest)
        chmodSync(flippedFile, 0o644)
        const bytes = readFileSync(flippedFile)
        bytes[12345] ^= 1
        writeFileSync(flippedFile, bytes)
        chmodSync(store.objectPath(truncated.digest), 0o644)
        truncateSync(store.objectPath(truncated.digest), 4000)
        const read = yield* Effect.flip(store.readBytes(flipped))
        const verify = yield* Effect.flip(store.verifyObject(flipped))
        const verifyTruncated = yield* Effect.flip(store.verifyObject(truncated))
        const all = yield* store.verifyAll
        return {
          flipped,
          truncated,
          read,
          verify,
          verifyTruncated,
          all,
          hasFlipped: yield* store.hasObject(flipped),
          hasHealthy: yield* store.hasObject(healthy),
          again: yield* store.verifyAll,
          restored: yield* store.putBytes(new Uint8Array(1 << 20).fill(7)).pipe(Effect.andThen(store.readBytes(flipped)))
        }
      })
    )
    expect(result.read._tag).toBe("CorruptObject")
    expect(result.verify._tag).toBe("CorruptObject")
    expect(result.verifyTruncated._tag).toBe("CorruptObject")
    expect(result.verifyTruncated.message).toContain("size 4000, expected 5000")
    expect([...result.all.corrupt].sort()).toEqual([result.flipped.digest, result.truncated.digest].sort())
    expect(result.all.checked).toBe(3)
    expect(result.hasFlipped).toBe(false)
    expect(result.hasHealthy).toBe(true)
    expect(result.again).toEqual({ checked: 1, bytes: 10, corrupt: [] })
    expect(result.restored.length).toBe(1 << 20)
    const quarantined = readdirSync(join(root(), "quarantine"))
    expect(quarantined.map((name) => name.split(".")[0]).sort()).toEqual([result.flipped.digest, result.truncated.digest].sort())
  })

  it("writes nothing outside the root for ids that try to escape it", async () => {
    mkdirSync(join(temp.dir, "ckpt"))
    writeFileSync(join(temp.dir, "ckpt", "f"), "x")
    const outside = () => listTree(temp.dir).filter((entry) => !entry.startsWith("store"))
    const before = outside()
    await run(
      Effect.gen(function* () {
        const store = yield* Store
        for (const id of ["..", "../..", "../escaped", "/tmp/escaped", "a/../../b"]) {
          yield* Effect.ignore(store.putDocument("runs", id, { x: 1 }))
          yield* Effect.ignore(store.saveCheckpoint(id, 1, join(temp.dir, "ckpt")))
          yield* Effect.ignore(store.withLock(id, Effect.void))
          yield* Effect.ignore(store.clearCheckpoints(id))
        }
      })
    )
    expect(outside()).toEqual(before)
    expect(existsSync("/tmp/escaped.json")).toBe(false)
  })

  it("interrupting putFile leaves neither an object nor a tmp file", async () => {
    const source = join(temp.dir, "big.bin")
    writeFileSync(source, Buffer.alloc(256 << 20, 3))
    const leftovers = await run(
      Effect.gen(function* () {
        const store = yield* Store
        const seen: Array<Array<string>> = []
        for (const delay of [0, 20, 80, 300]) {
          const fiber = yield* Effect.forkChild(store.putFile(source))
          yield* Effect.sleep(delay)
          yield* Fiber.interrupt(fiber)
          seen.push([...objectFiles(root()), ...listTree(join(root(), "tmp"))])
        }
        return seen
      })
    )
    expect(leftovers).toEqual([[], [], [], []])
  })

  it("a process killed mid-putFile leaves no visible object; sweep clears its tmp file", async () => {
    const source = join(temp.dir, "big.bin")
    writeFileSync(source, Buffer.alloc(384 << 20, 5))
    const barrier = join(temp.dir, "barrier")
    mkdirSync(barrier)
    writeFileSync(join(barrier, "parent"), "")
    const worker = watch(startWorker("put", root(), barrier, source))
    const tmp = join(root(), "tmp")
    const partial = () => {
      const entries = existsSync(tmp) ? readdirSync(tmp).filter((name) => name.includes(".object.")) : []
      return entries.some((name) => (statSync(join(tmp, name), { throwIfNoEntry: false })?.size ?? 0) > 0)
    }
    await worker.waitFor("a partial object appeared in tmp/", partial, 2)
    worker.child.kill("SIGKILL")
    await worker.closed
    expect(objectFiles(root())).toEqual([])
    expect(readdirSync(tmp).length).toBeGreaterThan(0)
    const result = await run(
      Effect.gen(function* () {
        const store = yield* Store
        const swept = yield* store.sweep(new Set(), new Set(), { dryRun: false })
        const ref = yield* store.putFile(source)
        return { swept, ref, verified: yield* store.verifyAll }
      })
    )
    expect(result.swept.objects).toBe(0)
    expect(result.swept.bytes).toBeGreaterThan(0)
    expect(listTree(tmp)).toEqual([])
    expect(result.verified).toEqual({ checked: 1, bytes: 384 << 20, corrupt: [] })
  })

  it("a process killed while saving checkpoints and documents leaves only whole ones", async () => {
    const barrier = join(temp.dir, "barrier")
    const state = join(temp.dir, "state")
    mkdirSync(barrier)
    mkdirSync(state)
    writeFileSync(join(barrier, "parent"), "")
    const worker = watch(startWorker("churn", root(), barrier, state))
    const keyDir = join(root(), "checkpoints", "churn")
    await worker.waitFor("checkpoint 3 was saved", () => existsSync(join(keyDir, "3")), 5)
    await new Promise((resolve) => setTimeout(resolve, 137))
    worker.child.kill("SIGKILL")
    await worker.closed
    const result = await run(
      Effect.gen(function* () {
        const store = yield* Store
        const checkpoint = yield* store.latestCheckpoint("churn")
        const contents = Option.map(checkpoint, (c) => ["a.bin", "b.bin"].map((name) => readFileSync(join(c.dir, name), "utf8")))
        return { checkpoint, contents, document: yield* store.getDocument("runs", "churn") }
      })
    )
    const step = Option.getOrThrow(result.checkpoint).step
    expect(step).toBeGreaterThanOrEqual(3)
    for (const text of Option.getOrThrow(result.contents)) expect(text).toBe(`${step}\n`.repeat(200_000))
    const document = Option.getOrThrow(result.document) as { n: number; pad: string }
    expect([step - 1, step]).toContain(document.n)
    expect(document.pad.length).toBe(1_000_000)
  })

  it("two processes putting the same file agree on one object", async () => {
    const source = join(temp.dir, "shared.bin")
    writeFileSync(source, Buffer.alloc(24 << 20, 11))
    const barrier = join(temp.dir, "barrier")
    mkdirSync(barrier)
    const outputs = await Promise.all([finished(startWorker("put", root(), barrier, source)), finished(startWorker("put", root(), barrier, source))])
    const refs = outputs.map((out) => JSON.parse(out) as unknown)
    expect(refs[0]).toEqual({ digest: sha256sum(source), size: 24 << 20 })
    expect(refs[1]).toEqual(refs[0])
    expect(objectFiles(root()).length).toBe(1)
    expect(listTree(join(root(), "tmp"))).toEqual([])
    const verified = await run(Store.use((store) => store.verifyAll))
    expect(verified.corrupt).toEqual([])
  })

  it("withLock excludes two processes from each other", async () => {
    const counter = join(temp.dir, "counter")
    writeFileSync(counter, "0")
    const barrier = join(temp.dir, "barrier")
    mkdirSync(barrier)
    await Promise.all([finished(startWorker("count", root(), barrier, counter, "6")), finished(startWorker("count", root(), barrier, counter, "6"))])
    expect(readFileSync(counter, "utf8")).toBe("12")
    expect(listTree(join(root(), "locks"))).toEqual([])
  })

  it("breaks a lock whose holder died and waits on one whose holder lives", async () => {
    const locks = join(root(), "locks")
    mkdirSync(locks, { recursive: true })
    writeFileSync(join(locks, "dead.lock"), JSON.stringify({ pid: deadPid(), host: Owners.self.host, nonce: "gone" }))
    writeFileSync(join(locks, "alive.lock"), JSON.stringify({ pid: process.pid, host: Owners.self.host, nonce: "someone-else" }))
    const result = await run(
      Effect.gen(function* () {
        const store = yield* Store
        return {
          dead: yield* store.withLock("dead", Effect.succeed("taken")).pipe(Effect.timeoutOption("5 seconds")),
          alive: yield* store.withLock("alive", Effect.succeed("taken")).pipe(Effect.timeoutOption("300 millis"))
        }
      })
    )
    expect(result.dead).toEqual(Option.some("taken"))
    expect(Option.isNone(result.alive)).toBe(true)
    expect(existsSync(join(locks, "alive.lock"))).toBe(true)
  })

  it("sweep removes tmp entries of dead owners and old unowned ones, keeps the rest", async () => {
    const tmp = join(root(), "tmp")
    mkdirSync(tmp, { recursive: true })
    const hex = "0123456789abcdef"
    const dead = join(tmp, `${deadPid()}.${Owners.self.host}.dir.${hex}`)
    const mine = join(tmp, `${process.pid}.${Owners.self.host}.dir.${hex}`)
    const fresh = join(tmp, "unowned-fresh")
    const old = join(tmp, "unowned-old")
    mkdirSync(dead)
    writeFileSync(join(dead, "partial"), Buffer.alloc(300))
    mkdirSync(mine)
    writeFileSync(fresh, Buffer.alloc(7))
    writeFileSync(old, Buffer.alloc(20))
    const twoDaysAgo = (Date.now() - 2 * 24 * 3600 * 1000) / 1000
    utimesSync(old, twoDaysAgo, twoDaysAgo)
    const dry = await run(Store.use((store) => store.sweep(new Set(), new Set(), { dryRun: true })))
    expect(dry).toEqual({ objects: 0, bytes: 320 })
    expect(readdirSync(tmp).length).toBe(4)
    const swept = await run(Store.use((store) => store.sweep(new Set(), new Set(), { dryRun: false })))
    expect(swept).toEqual({ objects: 0, bytes: 320 })
    expect(readdirSync(tmp).sort()).toEqual([`${process.pid}.${Owners.self.host}.dir.${hex}`, "unowned-fresh"])
  })
})
