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
import { Effect, Exit, Fiber, Layer, Option } from "effect"
import type { Scope } from "effect"
import { afterAll, afterEach, describe, expect, it } from "vitest"
import type { Digest } from "../../src/store/Digest.ts"
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

/** A gc plan that keeps nothing but what is pinned. */
const nothingKept = () => Effect.succeed({ objects: new Set<Digest>(), keys: new Set<string>() })

/** A pid that certainly belonged to a process which has exited. */
const deadPid = (): number => spawnSync(process.execPath, ["-e", ""]).pid!

/** Flips the lowest bit of byte `at` of a (read-only) store file in place. */
const flipByte = (file: string, at: number): void => {
  chmodSync(file, 0o644)
  const bytes = readFileSync(file)
  bytes[at] ^= 1
  writeFileSync(file, bytes)
}

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
    const record = JSON.parse(readFileSync(join(root(), "stages", "k1.json"), "utf8")) as Record<string, unknown>
    expect(record.outputs).toEqual(["x"])
    expect(record.sha256).toMatch(/^[0-9a-f]{64}$/)
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
    // The read quarantined it: it is gone, not used.
    expect(result.verify._tag).toBe("MissingObject")
    expect(result.verifyTruncated._tag).toBe("CorruptObject")
    expect(result.verifyTruncated.message).toContain("size 4000, expected 5000")
    // The read and the verify already quarantined both; verifyAll finds the store clean.
    expect(result.all).toEqual({ objects: 1, bytes: 10, documents: 0, checkpoints: 0, damaged: [] })
    expect(result.hasFlipped).toBe(false)
    expect(result.hasHealthy).toBe(true)
    expect(result.again).toEqual(result.all)
    expect(result.restored.length).toBe(1 << 20)
    const quarantined = readdirSync(join(root(), "quarantine")).filter((name) => !name.endsWith(".why"))
    expect(quarantined.map((name) => name.split(".")[0]).sort()).toEqual([result.flipped.digest, result.truncated.digest].sort())
    const why = readdirSync(join(root(), "quarantine")).filter((name) => name.endsWith(".why"))
    expect(why.map((name) => readFileSync(join(root(), "quarantine", name), "utf8")).join("")).toContain("content hashes to")
  })

  it("verifyAll finds and quarantines an object corrupted behind the store's back", async () => {
    const result = await run(
      Effect.gen(function* () {
        const store = yield* Store
        const ref = yield* store.putBytes(new Uint8Array(4096).fill(3))
        const file = store.objectPath(ref.digest)
        chmodSync(file, 0o644)
        const bytes = readFileSync(file)
        bytes[100] ^= 0x10
        writeFileSync(file, bytes)
        return { ref, all: yield* store.verifyAll, has: yield* store.hasObject(ref) }
      })
    )
    expect(result.all.damaged.map((d) => [d.kind, d.id])).toEqual([["object", result.ref.digest]])
    expect(result.has).toBe(false)
  })

  it("checkObject trusts an unchanged stat, re-hashes a changed one, and quarantines what fails", async () => {
    const result = await run(
      Effect.gen(function* () {
        const store = yield* Store
        const ref = yield* store.putBytes(new Uint8Array(2048).fill(5))
        const file = store.objectPath(ref.digest)
        // Old enough that its hash is not racy: checkObject re-hashes once, then trusts the stat.
        const past = (Date.now() - 60_000) / 1000
        utimesSync(file, past, past)
        yield* store.checkObject(ref)
        flipByte(file, 7)
        // A corruption that restores size, mtime and inode is what only a full hash sees.
        utimesSync(file, past, past)
        const trusted = yield* Effect.exit(store.checkObject(ref))
        const full = yield* Effect.flip(store.verifyObject(ref))
        const gone = yield* Effect.flip(store.checkObject(ref))
        return { trusted, full, gone }
      })
    )
    expect(Exit.isSuccess(result.trusted)).toBe(true)
    expect(result.full._tag).toBe("CorruptObject")
    expect(result.gone._tag).toBe("MissingObject")
  })

  it("checkObject re-hashes an object whose bytes and mtime changed (same size)", async () => {
    const result = await run(
      Effect.gen(function* () {
        const store = yield* Store
        const ref = yield* store.putBytes(new Uint8Array(2048).fill(6))
        const file = store.objectPath(ref.digest)
        const past = (Date.now() - 60_000) / 1000
        utimesSync(file, past, past)
        yield* store.checkObject(ref)
        flipByte(file, 7)
        return yield* Effect.flip(store.checkObject(ref))
      })
    )
    expect(result._tag).toBe("CorruptObject")
    expect(result.message).toContain("content hashes to")
  })

  it("seals documents: a flipped byte is found on read and by checkDocuments, and quarantined", async () => {
    const result = await run(
      Effect.gen(function* () {
        const store = yield* Store
        yield* store.putDocument("stages", "k1", { outputs: { a: "0123" }, metric: 12 })
        yield* store.putDocument("runs", "r1", { status: "succeeded" })
        yield* store.putDocument("runs", "r2", { status: "failed" })
        const flip = (file: string, from: string, to: string) => writeFileSync(file, readFileSync(file, "utf8").replace(from, to))
        flip(join(root(), "stages", "k1.json"), "12", "13")
        flip(join(root(), "runs", "r2.json"), "failed", "fajled")
        const read = yield* Effect.flip(store.getDocument("stages", "k1"))
        const damaged = yield* store.checkDocuments("runs")
        return { read, damaged, after: yield* store.getDocument("stages", "k1"), r1: yield* store.getDocument("runs", "r1") }
      })
    )
    expect(result.read._tag).toBe("CorruptDocument")
    expect(result.read.message).toContain("stages/k1.json: its text hashes to")
    expect(result.damaged.map((d) => d.id)).toEqual(["r2"])
    expect(Option.isNone(result.after)).toBe(true)
    expect(result.r1).toEqual(Option.some({ status: "succeeded" }))
    expect(readdirSync(join(root(), "quarantine")).filter((n) => !n.endsWith(".why")).map((n) => n.split(".").slice(0, 2).join(".")).sort())
      .toEqual(["runs.r2", "stages.k1"])
  })

  it("reads a document written before seals as it is, and refuses one that is not JSON", async () => {
    mkdirSync(join(root(), "runs"), { recursive: true })
    writeFileSync(join(root(), "runs", "old.json"), JSON.stringify({ status: "succeeded" }, null, 2))
    writeFileSync(join(root(), "runs", "cut.json"), '{\n  "status": "succ')
    const result = await run(
      Effect.gen(function* () {
        const store = yield* Store
        return { old: yield* store.getDocument("runs", "old"), damaged: yield* store.checkDocuments("runs") }
      })
    )
    expect(result.old).toEqual(Option.some({ status: "succeeded" }))
    expect(result.damaged.map((d) => [d.id, d.message.split(":")[0]])).toEqual([["cut", "not JSON and without a sha256 seal (truncated or damaged)"]])
  })

  it("discards a checkpoint that fails its digests and resumes from the one before", async () => {
    const state = join(temp.dir, "state")
    mkdirSync(state)
    const result = await run(
      Effect.gen(function* () {
        const store = yield* Store
        writeFileSync(join(state, "w.bin"), Buffer.alloc(4096, 1))
        yield* store.saveCheckpoint("k", 10, state)
        writeFileSync(join(state, "w.bin"), Buffer.alloc(4096, 2))
        yield* store.saveCheckpoint("k", 20, state)
        const newest = join(root(), "checkpoints", "k", "20", "files", "w.bin")
        chmodSync(newest, 0o644)
        const bytes = readFileSync(newest)
        bytes[4000] ^= 0x40
        writeFileSync(newest, bytes)
        const first = yield* store.latestCheckpoint("k")
        const older = join(root(), "checkpoints", "k", "10", "manifest.json")
        writeFileSync(older, readFileSync(older, "utf8").replace('"step": 10', '"step": 11'))
        const second = yield* store.latestCheckpoint("k")
        return { first, second }
      })
    )
    expect(Option.map(result.first.checkpoint, (c) => c.step)).toEqual(Option.some(10))
    expect(result.first.discarded.map((d) => d.step)).toEqual([20])
    expect(result.first.discarded[0]!.message).toContain("w.bin hashes to")
    expect(Option.isNone(result.second.checkpoint)).toBe(true)
    expect(result.second.discarded.map((d) => d.step)).toEqual([10])
    expect(readdirSync(join(root(), "checkpoints", "k"))).toEqual([])
  })

  it("refuses a root that is a file, saying so", async () => {
    const file = join(temp.dir, "not-a-dir")
    writeFileSync(file, "x")
    const error = await Effect.runPromise(
      Effect.flip(Effect.scoped(Layer.build(layerDisk(file).pipe(Layer.provide(NodeServices.layer)))))
    )
    expect(error.message).toBe(`${file} is a file, not a directory`)
  })

  it("deleting a run record removes its telemetry folder and no other run's", async () => {
    mkdirSync(join(root(), "runs", "a"), { recursive: true })
    mkdirSync(join(root(), "runs", "b"), { recursive: true })
    writeFileSync(join(root(), "runs", "a", "events.out.tfevents"), "x")
    writeFileSync(join(root(), "runs", "b", "events.out.tfevents"), "y")
    await run(
      Effect.gen(function* () {
        const store = yield* Store
        yield* store.putDocument("runs", "a", {})
        yield* store.putDocument("runs", "b", {})
        yield* store.deleteDocument("runs", "a")
      })
    )
    expect(readdirSync(join(root(), "runs")).sort()).toEqual(["b", "b.json"])
  })

  it("collect keeps what a live process pinned, and sweeps it and its roots file once that process is dead", async () => {
    const barrier = join(temp.dir, "barrier")
    mkdirSync(barrier)
    writeFileSync(join(barrier, "parent"), "")
    const output = join(temp.dir, "pinned.json")
    const worker = watch(startWorker("pin", root(), barrier, output))
    await worker.waitFor("the worker pinned its objects", () => existsSync(output), 10)
    const pinned = JSON.parse(readFileSync(output, "utf8")) as { written: { digest: Digest; size: number }; checked: { digest: Digest; size: number } }
    const collect = () =>
      run(Store.use((store) =>
        store.collect(() => Effect.succeed({ objects: new Set<Digest>(), keys: new Set<string>() }), { dryRun: false }).pipe(
          Effect.andThen(Effect.all([store.hasObject(pinned.written), store.hasObject(pinned.checked)]))
        )
      ))
    const whileAlive = await collect()
    worker.child.kill("SIGKILL")
    await worker.closed
    const afterDeath = await collect()
    expect(whileAlive).toEqual([true, true])
    expect(afterDeath).toEqual([false, false])
    expect(listTree(join(root(), "roots"))).toEqual([])
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

  it("a process killed mid-putFile leaves no visible object; gc clears its tmp file", async () => {
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
        const swept = yield* store.collect(nothingKept, { dryRun: false })
        const ref = yield* store.putFile(source)
        return { swept, ref, verified: yield* store.verifyAll }
      })
    )
    expect(result.swept.objects).toBe(0)
    expect(result.swept.bytes).toBeGreaterThan(0)
    expect(listTree(tmp)).toEqual([])
    expect(result.verified).toEqual({ objects: 1, bytes: 384 << 20, documents: 0, checkpoints: 0, damaged: [] })
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
        const { checkpoint } = yield* store.latestCheckpoint("churn")
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
    expect(verified.damaged).toEqual([])
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

  it("counts a killed process its parent has not reaped yet (a zombie) as dead", async () => {
    // `exec sleep` replaces the shell by a process that never waits for the shell's background child.
    const shell = spawn("sh", ["-c", "sleep 30 & echo $!; exec sleep 5"], { stdio: ["ignore", "pipe", "ignore"] })
    const pid = await new Promise<number>((resolve) => shell.stdout!.once("data", (chunk) => resolve(Number(String(chunk).trim()))))
    const owner = { pid, host: Owners.self.host }
    const before = Owners.isDead(owner)
    // Until the shell has become `sleep`, it may still reap the child itself (seen under load).
    for (let waited = 0; readFileSync(`/proc/${shell.pid}/comm`, "utf8").trim() !== "sleep"; waited += 10) {
      if (waited > 5000) throw new Error("the shell did not exec sleep within 5 s")
      await new Promise((resolve) => setTimeout(resolve, 10))
    }
    process.kill(pid, "SIGKILL")
    await new Promise((resolve) => setTimeout(resolve, 200))
    const zombie = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.startsWith("Z")
    const after = Owners.isDead(owner)
    shell.kill("SIGKILL")
    expect([before, zombie, after]).toEqual([false, true, true])
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

  it("collect removes tmp entries of dead owners and old unowned ones, keeps the rest", async () => {
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
    const dry = await run(Store.use((store) => store.collect(nothingKept, { dryRun: true })))
    expect(dry).toEqual({ objects: 0, bytes: 320 })
    expect(readdirSync(tmp).length).toBe(4)
    const swept = await run(Store.use((store) => store.collect(nothingKept, { dryRun: false })))
    expect(swept).toEqual({ objects: 0, bytes: 320 })
    expect(readdirSync(tmp).sort()).toEqual([`${process.pid}.${Owners.self.host}.dir.${hex}`, "unowned-fresh"])
  })
})
