/**
 * The Store contract, run against every implementation (conformance.test.ts: disk, memory, and a
 * disk cache in front of a shared store in memory; s3.test.ts: in front of a real bucket). Digests
 * are checked against coreutils' sha256sum and the FIPS 180-2 test vector, not against our own
 * hashing.
 */
import { randomBytes } from "node:crypto"
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs"
import { join, relative } from "node:path"
import type * as NodeServices from "@effect/platform-node/NodeServices"
import type { Scope } from "effect"
import { Effect, Exit, Fiber, Option } from "effect"
import type { Layer } from "effect"
import { afterAll, afterEach, describe, expect, it } from "vitest"
import * as Digests from "../../src/store/Digest.ts"
import type { Digest } from "../../src/store/Digest.ts"
import { Store, StoreError } from "../../src/store/Store.ts"
import { runWith, sha256sum, tempDir } from "./support.ts"

const abcDigest = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
const emptyDigest = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

const badIds = ["", ".", "..", "../x", "a/b", "/etc/passwd", "a\\b", "a\u0000b", "a\nb", "a..b", "é", "x".repeat(201)]

/**
 * The suite for the store `makeLayer` builds in a fresh directory. `sweeps`: whether `collect`
 * removes what the store holds (false for a cache in front of a shared store, whose gc sweeps
 * only the cache).
 */
export const describeConformance = (
  name: string,
  makeLayer: (root: string) => Layer.Layer<Store, StoreError>,
  options: { readonly sweeps: boolean }
) =>
  describe(`Store conformance: ${name}`, () => {
    let temp = tempDir(name)
    afterEach(() => {
      temp.cleanup()
      temp = tempDir(name)
    })
    afterAll(() => temp.cleanup())
    const run = <A, E>(effect: Effect.Effect<A, E, Store | Scope.Scope | NodeServices.NodeServices>) =>
      runWith(makeLayer(temp.dir))(effect)
    const writeSource = (file: string, bytes: Uint8Array) => {
      const path = join(temp.dir, file)
      writeFileSync(path, bytes)
      return path
    }

    it("putBytes names bytes by their sha256 and reads them back", async () => {
      const bytes = new TextEncoder().encode("abc")
      const result = await run(
        Effect.gen(function* () {
          const store = yield* Store
          const ref = yield* store.putBytes(bytes)
          return { ref, read: yield* store.readBytes(ref), onDisk: readFileSync(store.objectPath(ref.digest)) }
        })
      )
      expect(result.ref).toEqual({ digest: abcDigest, size: 3 })
      expect(Buffer.from(result.read).toString()).toBe("abc")
      expect(Buffer.from(result.onDisk).toString()).toBe("abc")
    })

    it("putFile streams a multi-chunk file, matches sha256sum and is idempotent", async () => {
      const bytes = randomBytes(17 * 1024 * 1024 + 123)
      const source = writeSource("big.bin", bytes)
      const result = await run(
        Effect.gen(function* () {
          const store = yield* Store
          const first = yield* store.putFile(source)
          const second = yield* store.putFile(source)
          const fromBytes = yield* store.putBytes(bytes)
          yield* store.verifyObject(first)
          return { first, second, fromBytes, read: yield* store.readBytes(first) }
        })
      )
      expect(result.first).toEqual({ digest: sha256sum(source), size: bytes.length })
      expect(result.second).toEqual(result.first)
      expect(result.fromBytes).toEqual(result.first)
      expect(Buffer.compare(Buffer.from(result.read), bytes)).toBe(0)
      expect(existsSync(source)).toBe(true)
    })

    it("putFile of an empty file gives the empty digest", async () => {
      const source = writeSource("empty", new Uint8Array(0))
      const ref = await run(Store.use((store) => store.putFile(source)))
      expect(ref).toEqual({ digest: emptyDigest, size: 0 })
    })

    it("putFile with move takes the file, also when the object already exists", async () => {
      const bytes = randomBytes(4096)
      const first = writeSource("a.bin", bytes)
      const second = writeSource("b.bin", bytes)
      const expected = sha256sum(first)
      const refs = await run(
        Effect.gen(function* () {
          const store = yield* Store
          const a = yield* store.putFile(first, { move: true })
          const b = yield* store.putFile(second, { move: true })
          return { a, b, read: yield* store.readBytes(a) }
        })
      )
      expect(refs.a).toEqual({ digest: expected, size: 4096 })
      expect(refs.b).toEqual(refs.a)
      expect(Buffer.compare(Buffer.from(refs.read), bytes)).toBe(0)
      expect(existsSync(first)).toBe(false)
      expect(existsSync(second)).toBe(false)
    })

    it("putFile rejects a missing path and a directory", async () => {
      const dir = join(temp.dir, "adir")
      mkdirSync(dir)
      const errors = await run(
        Effect.gen(function* () {
          const store = yield* Store
          return [yield* Effect.flip(store.putFile(join(temp.dir, "nope"))), yield* Effect.flip(store.putFile(dir))]
        })
      )
      for (const error of errors) {
        expect(error).toBeInstanceOf(StoreError)
        expect(error.method).toBe("putFile")
      }
    })

    it("hasObject and readBytes tell missing and mis-sized objects apart", async () => {
      const result = await run(
        Effect.gen(function* () {
          const store = yield* Store
          const ref = yield* store.putBytes(new TextEncoder().encode("abc"))
          const absent = { digest: Digests.ofBytes(new TextEncoder().encode("abd")), size: 3 }
          return {
            has: yield* store.hasObject(ref),
            wrongSize: yield* store.hasObject({ ...ref, size: 4 }),
            hasAbsent: yield* store.hasObject(absent),
            missing: yield* Effect.flip(store.readBytes(absent)),
            missingVerify: yield* Effect.flip(store.verifyObject(absent)),
            corrupt: yield* Effect.flip(store.readBytes({ ...ref, size: 4 }))
          }
        })
      )
      expect(result.has).toBe(true)
      expect(result.wrongSize).toBe(false)
      expect(result.hasAbsent).toBe(false)
      expect(result.missing._tag).toBe("MissingObject")
      expect(result.missingVerify._tag).toBe("MissingObject")
      expect(result.corrupt._tag).toBe("CorruptObject")
    })

    it("documents: put, get, overwrite, list, delete", async () => {
      const result = await run(
        Effect.gen(function* () {
          const store = yield* Store
          const before = yield* store.getDocument("runs", "r1")
          yield* store.putDocument("runs", "r1", { status: "running", stages: [1, 2] })
          yield* store.putDocument("runs", "r1", { status: "done", stages: [1, 2] })
          yield* store.putDocument("runs", "r2", { status: "done" })
          yield* store.putDocument("stages", "k1", { key: "k1" })
          const got = yield* store.getDocument("runs", "r1")
          const runs = yield* store.listDocuments("runs")
          yield* store.deleteDocument("runs", "r1")
          yield* store.deleteDocument("runs", "never-written")
          return { before, got, runs, after: yield* store.getDocument("runs", "r1"), left: yield* store.listDocuments("runs") }
        })
      )
      expect(Option.isNone(result.before)).toBe(true)
      expect(result.got).toEqual(Option.some({ status: "done", stages: [1, 2] }))
      expect(result.runs.map((entry) => entry.id).sort()).toEqual(["r1", "r2"])
      for (const entry of result.runs) expect(entry.mtimeMs).toBeGreaterThan(0)
      expect(Option.isNone(result.after)).toBe(true)
      expect(result.left.map((entry) => entry.id)).toEqual(["r2"])
    })

    it("rejects documents that are not JSON and unknown kinds", async () => {
      const errors = await run(
        Effect.gen(function* () {
          const store = yield* Store
          return [
            yield* Effect.flip(store.putDocument("runs", "r", undefined)),
            yield* Effect.flip(store.putDocument("runs", "r", { big: 1n })),
            yield* Effect.flip(store.getDocument("objects" as "runs", "r"))
          ]
        })
      )
      for (const error of errors) expect(error).toBeInstanceOf(StoreError)
    })

    it("rejects every id that could leave its directory", async () => {
      const dir = join(temp.dir, "ckpt")
      mkdirSync(dir)
      for (const id of badIds) {
        const errors = await run(
          Effect.gen(function* () {
            const store = yield* Store
            return [
              yield* Effect.flip(store.getDocument("runs", id)),
              yield* Effect.flip(store.putDocument("stages", id, {})),
              yield* Effect.flip(store.deleteDocument("runs", id)),
              yield* Effect.flip(store.withLock(id, Effect.void)),
              yield* Effect.flip(store.saveCheckpoint(id, 1, dir)),
              yield* Effect.flip(store.latestCheckpoint(id)),
              yield* Effect.flip(store.clearCheckpoints(id))
            ]
          })
        )
        for (const error of errors) {
          expect(error, JSON.stringify(id)).toBeInstanceOf(StoreError)
          expect(error.message).toContain("invalid id")
        }
      }
    })

    it("objectPath refuses a value that is not a digest", async () => {
      await run(
        Effect.gen(function* () {
          const store = yield* Store
          expect(() => store.objectPath("../../etc/passwd" as Digests.Digest)).toThrow(/not a sha256 digest/)
        })
      )
    })

    it("makeTmpDir gives a writable directory inside the store, removed with its scope", async () => {
      const result = await run(
        Effect.gen(function* () {
          const store = yield* Store
          const dir = yield* Effect.scoped(
            Effect.gen(function* () {
              const dir = yield* store.makeTmpDir
              writeFileSync(join(dir, "x"), "y")
              expect(existsSync(join(dir, "x"))).toBe(true)
              // The same Effect used again in one process gives another directory.
              const other = yield* store.makeTmpDir
              expect(other).not.toBe(dir)
              return dir
            })
          )
          return { dir, root: store.root }
        })
      )
      expect(relative(result.root, result.dir).startsWith("..")).toBe(false)
      expect(existsSync(result.dir)).toBe(false)
    })

    it("withLock excludes holders of one name and not of different names", async () => {
      const result = await run(
        Effect.gen(function* () {
          const store = yield* Store
          const section = (name: string, counter: { inside: number; max: number }) =>
            store.withLock(
              name,
              Effect.gen(function* () {
                counter.inside += 1
                counter.max = Math.max(counter.max, counter.inside)
                yield* Effect.sleep("15 millis")
                counter.inside -= 1
              })
            )
          const same = { inside: 0, max: 0 }
          yield* Effect.all([section("a", same), section("a", same), section("a", same), section("a", same)], { concurrency: "unbounded" })
          const different = { inside: 0, max: 0 }
          yield* Effect.all([section("b", different), section("c", different)], { concurrency: "unbounded" })
          return { same: same.max, different: different.max }
        })
      )
      expect(result).toEqual({ same: 1, different: 2 })
    })

    it("withLock releases on failure and on interruption", async () => {
      const result = await run(
        Effect.gen(function* () {
          const store = yield* Store
          const failed = yield* Effect.exit(store.withLock("l", Effect.fail("boom")))
          const holder = yield* Effect.forkChild(store.withLock("l", Effect.never))
          yield* Effect.sleep("30 millis")
          yield* Fiber.interrupt(holder)
          const after = yield* store.withLock("l", Effect.succeed("acquired")).pipe(Effect.timeout("5 seconds"))
          return { failed, after }
        })
      )
      expect(Exit.isFailure(result.failed)).toBe(true)
      expect(result.after).toBe("acquired")
    })

    it("checkpoints: save copies the directory, latest has the last step, a key keeps two, clear removes them", async () => {
      const source = join(temp.dir, "state")
      mkdirSync(join(source, "nested"), { recursive: true })
      writeFileSync(join(source, "weights.bin"), "w1")
      writeFileSync(join(source, "nested", "optimizer.bin"), "o1")
      const result = await run(
        Effect.gen(function* () {
          const store = yield* Store
          const latest = (key: string) => store.latestCheckpoint(key).pipe(Effect.map((found) => found.checkpoint))
          const none = yield* latest("key1")
          yield* store.saveCheckpoint("key1", 5, source)
          writeFileSync(join(source, "weights.bin"), "w2")
          const five = yield* latest("key1")
          const fiveWeights = Option.map(five, (c) => readFileSync(join(c.dir, "weights.bin"), "utf8"))
          const fiveOptimizer = Option.map(five, (c) => readFileSync(join(c.dir, "nested", "optimizer.bin"), "utf8"))
          const fiveFiles = Option.map(five, (c) => readdirSync(c.dir, { recursive: true }).map(String).sort())
          yield* store.saveCheckpoint("key1", 10, source)
          const ten = yield* latest("key1")
          const tenWeights = Option.map(ten, (c) => readFileSync(join(c.dir, "weights.bin"), "utf8"))
          yield* store.saveCheckpoint("key1", 15, source)
          const fifteen = yield* latest("key1")
          const badStep = yield* Effect.flip(store.saveCheckpoint("key1", -1, source))
          const fractional = yield* Effect.flip(store.saveCheckpoint("key1", 1.5, source))
          const notDir = yield* Effect.flip(store.saveCheckpoint("key1", 11, join(source, "weights.bin")))
          yield* store.clearCheckpoints("key1")
          const fiveGone = Option.map(five, (c) => !existsSync(c.dir))
          return { none, five, fiveWeights, fiveOptimizer, fiveFiles, fiveGone, ten, tenWeights, fifteen, badStep, fractional, notDir, cleared: yield* latest("key1") }
        })
      )
      expect(Option.isNone(result.none)).toBe(true)
      expect(Option.map(result.five, (c) => c.step)).toEqual(Option.some(5))
      expect(result.fiveWeights).toEqual(Option.some("w1"))
      expect(result.fiveOptimizer).toEqual(Option.some("o1"))
      expect(result.fiveFiles).toEqual(Option.some(["nested", join("nested", "optimizer.bin"), "weights.bin"]))
      expect(Option.map(result.ten, (c) => c.step)).toEqual(Option.some(10))
      expect(result.tenWeights).toEqual(Option.some("w2"))
      expect(Option.map(result.fifteen, (c) => c.step)).toEqual(Option.some(15))
      expect(result.fiveGone).toEqual(Option.some(true))
      for (const error of [result.badStep, result.fractional, result.notDir]) expect(error).toBeInstanceOf(StoreError)
      expect(Option.isNone(result.cleared)).toBe(true)
    })

    /** A checkpoint directory of one 5-byte file, s.bin. */
    const stateDir = () => {
      const source = join(temp.dir, "state")
      mkdirSync(source)
      writeFileSync(join(source, "s.bin"), "12345")
      return source
    }

    it("verifyAll re-hashes every object of a clean store and checks its records and checkpoints", async () => {
      const source = stateDir()
      const result = await run(
        Effect.gen(function* () {
          const store = yield* Store
          yield* store.putBytes(new Uint8Array([1, 2, 3]))
          yield* store.putBytes(new Uint8Array(1000))
          yield* store.putDocument("stages", "k", { a: 1 })
          yield* store.putDocument("runs", "r", {})
          yield* store.saveCheckpoint("k", 1, source)
          return yield* store.verifyAll
        })
      )
      expect(result).toEqual({ objects: 2, bytes: 1003, documents: 2, checkpoints: 1, damaged: [] })
    })

    const keep = (objects: ReadonlyArray<Digest>, keys: ReadonlyArray<string>) => () =>
      Effect.succeed({ objects: new Set(objects), keys: new Set(keys) })

    it.runIf(options.sweeps)("collect deletes unreferenced objects and checkpoints of dead keys; dryRun only counts", async () => {
      const source = stateDir()
      const result = await run(
        Effect.gen(function* () {
          const store = yield* Store
          const kept = yield* store.putBytes(new Uint8Array(10))
          const dropped = yield* store.putBytes(new Uint8Array(100))
          yield* store.saveCheckpoint("live", 1, source)
          yield* store.saveCheckpoint("dead", 1, source)
          const dry = yield* store.collect(keep([kept.digest], ["live"]), { dryRun: true })
          const afterDry = yield* store.hasObject(dropped)
          const real = yield* store.collect(keep([kept.digest], ["live"]), { dryRun: false })
          return {
            dry,
            afterDry,
            real,
            kept: yield* store.hasObject(kept),
            dropped: yield* store.hasObject(dropped),
            live: (yield* store.latestCheckpoint("live")).checkpoint,
            dead: (yield* store.latestCheckpoint("dead")).checkpoint,
            again: yield* store.collect(keep([kept.digest], ["live"]), { dryRun: false })
          }
        })
      )
      // The dead checkpoint's bytes count too (on disk with its manifest).
      expect(result.dry.objects).toBe(1)
      expect(result.dry.bytes).toBeGreaterThanOrEqual(105)
      expect(result.afterDry).toBe(true)
      expect(result.real).toEqual(result.dry)
      expect(result.kept).toBe(true)
      expect(result.dropped).toBe(false)
      expect(Option.isSome(result.live)).toBe(true)
      expect(Option.isNone(result.dead)).toBe(true)
      expect(result.again).toEqual({ objects: 0, bytes: 0 })
    })

    it.runIf(options.sweeps)("collect keeps what a pinning scope wrote or checked, and gives the plan the pinned keys", async () => {
      const result = await run(
        Effect.gen(function* () {
          const store = yield* Store
          const before = yield* store.putBytes(new Uint8Array(7))
          const seen: Array<ReadonlyArray<string>> = []
          const held = yield* Effect.scoped(
            Effect.gen(function* () {
              yield* store.pinning
              const written = yield* store.putBytes(new Uint8Array(8))
              yield* store.hasObject(before)
              yield* store.getDocument("stages", "pinned-key")
              yield* store.collect((pinned) => {
                seen.push([...pinned.keys])
                return keep([], [])()
              }, { dryRun: false })
              return { written: yield* store.hasObject(written), before: yield* store.hasObject(before) }
            })
          )
          const unpinned = yield* store.putBytes(new Uint8Array(9))
          yield* store.collect(keep([], []), { dryRun: false })
          return { held, seen, afterScope: yield* store.hasObject(unpinned), stillBefore: yield* store.hasObject(before) }
        })
      )
      expect(result.held).toEqual({ written: true, before: true })
      expect(result.seen).toEqual([["pinned-key"]])
      expect(result.afterScope).toBe(false)
      expect(result.stillBefore).toBe(false)
    })
  })
