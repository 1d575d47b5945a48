/**
 * The shared store's contract (Remote.ts), and what a disk cache in front of it must do with it,
 * run against the memory implementation (remote.test.ts) and a real bucket (s3.test.ts).
 */
import { randomBytes } from "node:crypto"
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import type * as NodeServices from "@effect/platform-node/NodeServices"
import type { Scope } from "effect"
import { Effect, Layer, Option } from "effect"
import { afterAll, afterEach, describe, expect, it } from "vitest"
import * as Digests from "../../src/store/Digest.ts"
import type { Digest } from "../../src/store/Digest.ts"
import { withLease } from "../../src/store/Lease.ts"
import { partSize } from "../../src/store/S3Remote.ts"
import { Remote, type RemoteShape } from "../../src/store/Remote.ts"
import { Store } from "../../src/store/Store.ts"
import { seal } from "../../src/store/DocumentSeal.ts"
import { cachedLayer, runWith, tempDir } from "./support.ts"

/** A fresh, empty shared store, and a way to damage it from outside as a bad disk or a person would. */
export interface SharedStore {
  readonly remote: RemoteShape
  /** Replaces the bytes stored under `digest`, bypassing every check. */
  readonly overwriteObject: (digest: Digest, bytes: Uint8Array) => Promise<void>
}

const collectBytes = async (body: AsyncIterable<Uint8Array>) => {
  const chunks: Array<Uint8Array> = []
  for await (const chunk of body) chunks.push(chunk)
  return Buffer.concat(chunks)
}

const source = (bytes: Uint8Array) => ({
  size: bytes.length,
  read: (offset: number, length: number) => Effect.succeed(bytes.subarray(offset, offset + length))
})

const flipped = (bytes: Uint8Array, at: number) => {
  const copy = Uint8Array.from(bytes)
  copy[at] = copy[at]! ^ 0x01
  return copy
}

/** The suite for the shared store `makeShared` gives (a fresh one per test). */
export const describeRemote = (name: string, makeShared: () => SharedStore) =>
  describe(`shared store: ${name}`, () => {
    let temp = tempDir("shared")
    afterEach(() => {
      temp.cleanup()
      temp = tempDir("shared")
    })
    afterAll(() => temp.cleanup())
    const run = <A, E>(effect: Effect.Effect<A, E>) => Effect.runPromise(effect)
    /** Runs `effect` against a disk cache in `cacheName` in front of `shared`. */
    const throughCache = (shared: SharedStore, cacheName: string) =>
    <A, E>(effect: Effect.Effect<A, E, Store | Scope.Scope | NodeServices.NodeServices>) =>
      runWith(cachedLayer(join(temp.dir, cacheName), Layer.succeed(Remote, shared.remote)))(effect)

    it("of 16 racing creates of one record exactly one wins, and its text is kept", async () => {
      const { remote } = makeShared()
      const texts = Array.from({ length: 16 }, (_, i) => seal({ writer: i })!)
      const won = await run(Effect.all(texts.map((text) => remote.createRecord("stages", "k", text)), { concurrency: "unbounded" }))
      expect(won.filter(Boolean)).toHaveLength(1)
      const kept = await run(remote.getRecord("stages", "k"))
      expect(Option.map(kept, (record) => record.text)).toEqual(Option.some(texts[won.indexOf(true)]))
      expect(await run(remote.createRecord("stages", "k", texts[0]!))).toBe(false)
    })

    it("objects round-trip, idempotently; one above the part size goes up in parts", async () => {
      const { remote } = makeShared()
      for (const bytes of [new Uint8Array(0), randomBytes(1000), randomBytes(2 * partSize + 12345)]) {
        const ref = { digest: Digests.ofBytes(bytes), size: bytes.length }
        expect(await run(remote.hasObject(ref))).toBe(false)
        await run(remote.putObject(ref, source(bytes)))
        await run(remote.putObject(ref, source(bytes)))
        expect(await run(remote.hasObject(ref))).toBe(true)
        expect(await run(remote.hasObject({ ...ref, size: ref.size + 1 }))).toBe(false)
        const body = await run(remote.getObject(ref))
        expect(Option.isSome(body)).toBe(true)
        expect(Buffer.compare(await collectBytes(Option.getOrThrow(body)), bytes)).toBe(0)
      }
    })

    it("an upload whose bytes are not its name fails and leaves nothing, in one part or many", async () => {
      const { remote } = makeShared()
      for (const size of [1000, partSize + 1]) {
        const bytes = randomBytes(size)
        const ref = { digest: Digests.ofBytes(bytes), size }
        const error = await run(Effect.flip(remote.putObject(ref, source(flipped(bytes, size - 1)))))
        expect(error._tag).toBe("StoreError")
        expect(error.message).toContain("changed while it was uploaded")
        expect(await run(remote.hasObject(ref))).toBe(false)
      }
    })

    it("records: put replaces, list names them (by prefix too) with their times, delete and quarantine remove them", async () => {
      const { remote } = makeShared()
      await run(remote.putRecord("runs", "r1", "one"))
      await run(remote.putRecord("runs", "r1", "two"))
      await run(remote.putRecord("runs", "r2", "x"))
      await run(remote.createRecord("stages", "k", "s"))
      expect(Option.map(await run(remote.getRecord("runs", "r1")), (record) => record.text)).toEqual(Option.some("two"))
      const listed = await run(remote.listRecords("runs"))
      expect(listed.map((entry) => entry.id).sort()).toEqual(["r1", "r2"])
      for (const entry of listed) expect(entry.mtimeMs).toBeGreaterThan(0)
      expect((await run(remote.listRecords("runs", "r2"))).map((entry) => entry.id)).toEqual(["r2"])
      await run(remote.deleteRecord("runs", "r1"))
      await run(remote.deleteRecord("runs", "never-written"))
      await run(remote.quarantineRecord("stages", "k", "test"))
      expect((await run(remote.listRecords("runs"))).map((entry) => entry.id)).toEqual(["r2"])
      expect(Option.isNone(await run(remote.getRecord("stages", "k")))).toBe(true)
      expect(Option.isNone(await run(remote.getRecord("runs", "r1")))).toBe(true)
      expect((await run(Effect.flip(remote.getRecord("stages", "../x")))).message).toContain("invalid id")
    })

    it("a second, empty cache gets the records and objects another cache wrote, verified", async () => {
      const shared = makeShared()
      const bytes = randomBytes(5000)
      const written = await throughCache(shared, "a")(
        Effect.gen(function* () {
          const store = yield* Store
          const ref = yield* store.putBytes(bytes)
          yield* store.putDocument("stages", "k", { outputs: [ref.digest] })
          return ref
        })
      )
      const read = await throughCache(shared, "b")(
        Effect.gen(function* () {
          const store = yield* Store
          const record = yield* store.getDocument("stages", "k")
          yield* store.checkObject(written)
          return { record, bytes: yield* store.readBytes(written), local: store.objectPath(written.digest) }
        })
      )
      expect(read.record).toEqual(Option.some({ outputs: [written.digest] }))
      expect(Buffer.compare(Buffer.from(read.bytes), bytes)).toBe(0)
      expect(existsSync(read.local)).toBe(true)
    })

    it("a flipped byte in a shared object is caught by an empty cache, quarantined there, and a put heals it", async () => {
      const shared = makeShared()
      const bytes = randomBytes(3000)
      const ref = await throughCache(shared, "a")(Store.use((store) => store.putBytes(bytes)))
      await shared.overwriteObject(ref.digest, flipped(bytes, 1234))
      const error = await throughCache(shared, "b")(Effect.flip(Store.use((store) => store.readBytes(ref))))
      expect(error._tag).toBe("CorruptObject")
      expect(error.message).toContain("content hashes to")
      expect(await run(shared.remote.hasObject(ref))).toBe(false)
      await throughCache(shared, "c")(Store.use((store) => store.putBytes(bytes)))
      const healed = await throughCache(shared, "d")(Store.use((store) => store.readBytes(ref)))
      expect(Buffer.compare(Buffer.from(healed), bytes)).toBe(0)
    })

    it("a damaged copy in the cache is replaced from the shared store", async () => {
      const shared = makeShared()
      const bytes = randomBytes(3000)
      const ref = await throughCache(shared, "a")(Store.use((store) => store.putBytes(bytes)))
      const cache = join(temp.dir, "a", "cache")
      const read = await throughCache(shared, "a")(
        Effect.gen(function* () {
          const store = yield* Store
          const file = store.objectPath(ref.digest)
          chmodSync(file, 0o644)
          writeFileSync(file, flipped(readFileSync(file), 7))
          return yield* store.readBytes(ref)
        })
      )
      expect(Buffer.compare(Buffer.from(read), bytes)).toBe(0)
      expect(readdirSync(join(cache, "quarantine")).some((entry) => entry.startsWith(ref.digest))).toBe(true)
    })

    it("a flipped byte in a shared stage record is caught, quarantined there, and reads as absent afterwards", async () => {
      const shared = makeShared()
      await throughCache(shared, "a")(Store.use((store) => store.putDocument("stages", "k", { metric: 0.125 })))
      const text = Option.getOrThrow(await run(shared.remote.getRecord("stages", "k"))).text
      await run(shared.remote.putRecord("stages", "k", text.replace("0.125", "0.126")))
      const error = await throughCache(shared, "b")(Effect.flip(Store.use((store) => store.getDocument("stages", "k"))))
      expect(error._tag).toBe("CorruptDocument")
      const after = await throughCache(shared, "c")(Store.use((store) => store.getDocument("stages", "k")))
      expect(Option.isNone(after)).toBe(true)
    })

    it("of two caches committing one stage key, the first record is the one both keep", async () => {
      const shared = makeShared()
      await throughCache(shared, "a")(Store.use((store) => store.putDocument("stages", "k", { by: "a" })))
      const second = await throughCache(shared, "b")(
        Effect.gen(function* () {
          const store = yield* Store
          yield* store.putDocument("stages", "k", { by: "b" })
          return yield* store.getDocument("stages", "k")
        })
      )
      expect(second).toEqual(Option.some({ by: "a" }))
    })

    it("a lock excludes holders in caches that share only the store, and leaves no lease behind", async () => {
      const shared = makeShared()
      const counter = { inside: 0, max: 0 }
      const section = (cacheName: string) =>
        throughCache(shared, cacheName)(
          Store.use((store) =>
            store.withLock(
              "stage.k",
              Effect.gen(function* () {
                counter.inside += 1
                counter.max = Math.max(counter.max, counter.inside)
                yield* Effect.sleep("100 millis")
                counter.inside -= 1
              })
            )
          )
        )
      await Promise.all([section("a"), section("b"), section("c")])
      expect(counter.max).toBe(1)
      expect(Option.isNone(await run(shared.remote.getRecord("leases", "stage.k")))).toBe(true)
    })

    // S3 gives a record's time in whole seconds, so the timings here leave a second of slack.
    const timing = { ttlMs: 1000, pollMs: 50 }

    it("a lease its holder renews is waited for; one whose holder died is taken once stale", async () => {
      const { remote } = makeShared()
      const events: Array<string> = []
      const holder = withLease(remote, "live", Effect.sleep("1500 millis").pipe(Effect.andThen(Effect.sync(() => events.push("holder done")))), timing)
      const waiter = Effect.sleep("100 millis").pipe(
        Effect.andThen(withLease(remote, "live", Effect.sync(() => events.push("waiter in")), timing))
      )
      await run(Effect.all([holder, waiter], { concurrency: "unbounded" }))
      expect(events).toEqual(["holder done", "waiter in"])

      expect(await run(remote.createRecord("leases", "dead", "{}\n"))).toBe(true)
      const started = Date.now()
      expect(await run(withLease(remote, "dead", Effect.succeed("taken"), timing))).toBe("taken")
      expect(Date.now() - started).toBeGreaterThanOrEqual(timing.ttlMs)
      expect(Option.isNone(await run(remote.getRecord("leases", "dead")))).toBe(true)
    })

    it("a checkpoint saved through one cache is the latest of another; the shared store keeps two a key; clear removes them", async () => {
      const shared = makeShared()
      const state = join(temp.dir, "state")
      mkdirSync(join(state, "nested"), { recursive: true })
      const save = (step: number) =>
        Effect.gen(function* () {
          writeFileSync(join(state, "weights.bin"), `w${step}`)
          writeFileSync(join(state, "nested", "optimizer.bin"), `o${step}`)
          yield* (yield* Store).saveCheckpoint("k", step, state)
        })
      await throughCache(shared, "a")(Effect.all([save(5), save(10), save(15)], { discard: true }))
      const steps = () => run(shared.remote.listRecords("checkpoints")).then((records) => records.map((record) => record.id).sort())
      expect(await steps()).toEqual(["k.10", "k.15"])
      const resumed = await throughCache(shared, "b")(
        Effect.gen(function* () {
          const { checkpoint, discarded } = yield* (yield* Store).latestCheckpoint("k")
          const found = Option.getOrThrow(checkpoint)
          return {
            step: found.step,
            discarded,
            weights: readFileSync(join(found.dir, "weights.bin"), "utf8"),
            optimizer: readFileSync(join(found.dir, "nested", "optimizer.bin"), "utf8")
          }
        })
      )
      expect(resumed).toEqual({ step: 15, discarded: [], weights: "w15", optimizer: "o15" })
      await throughCache(shared, "b")(Store.use((store) => store.clearCheckpoints("k")))
      expect(await steps()).toEqual([])
    })

    it("a checkpoint with a flipped byte in the shared store is discarded and the one before is the latest", async () => {
      const shared = makeShared()
      const state = join(temp.dir, "state")
      mkdirSync(state)
      for (const step of [1, 2]) {
        writeFileSync(join(state, "weights.bin"), `weights of step ${step}`)
        await throughCache(shared, "a")(Store.use((store) => store.saveCheckpoint("k", step, state)))
      }
      const newest = new TextEncoder().encode("weights of step 2")
      await shared.overwriteObject(Digests.ofBytes(newest), flipped(newest, 3))
      const latest = await throughCache(shared, "b")(Store.use((store) => store.latestCheckpoint("k")))
      expect(Option.map(latest.checkpoint, (checkpoint) => checkpoint.step)).toEqual(Option.some(1))
      expect(latest.discarded).toHaveLength(1)
      expect(latest.discarded[0]!.message).toMatch(/checkpoint of step 2: weights.bin: .*content hashes to/)
    })

    it("collect sweeps the cache, never the shared store", async () => {
      const shared = makeShared()
      const bytes = randomBytes(100)
      const result = await throughCache(shared, "a")(
        Effect.gen(function* () {
          const store = yield* Store
          const ref = yield* store.putBytes(bytes)
          const swept = yield* store.collect(() => Effect.succeed({ objects: new Set<Digest>(), keys: new Set<string>() }), { dryRun: false })
          return { ref, swept, local: existsSync(store.objectPath(ref.digest)), readable: yield* store.readBytes(ref) }
        })
      )
      expect(result.swept.objects).toBe(1)
      expect(result.local).toBe(false)
      expect(Buffer.compare(Buffer.from(result.readable), bytes)).toBe(0)
      expect(await run(shared.remote.hasObject(result.ref))).toBe(true)
    })
  })
