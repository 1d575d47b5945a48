/**
 * External inputs (`p.file`, `p.dir`) entering the store: a directory of symbolic links (how a
 * Hugging Face snapshot is laid out) imports what the links point to, and a touched file whose
 * bytes did not change is re-hashed in place rather than copied into the store again.
 */
import { createHash } from "node:crypto"
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, truncateSync, utimesSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as NodeServices from "@effect/platform-node/NodeServices"
import { Effect, Layer } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { Files } from "../../src/index.ts"
import { readArtifacts } from "../../src/runner/Artifacts.ts"
import { importDir, importFile, loadStatCache } from "../../src/runner/External.ts"
import { layerDisk } from "../../src/store/DiskStore.ts"
import { layerMemory } from "../../src/store/MemoryStore.ts"
import { Store, type StoreShape } from "../../src/store/Store.ts"

let dir: string
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "external-test-"))
})
afterAll(() => rmSync(dir, { recursive: true, force: true }))

/** Imports here are not expected to repair anything. */
const ignore = () => undefined

const sha256 = (path: string) => createHash("sha256").update(readFileSync(path)).digest("hex")

/** The memory store, counting the files copied into it. */
const counted = (copies: { count: number }) =>
  Layer.effect(Store, Effect.gen(function*() {
    const store = yield* Store
    return {
      ...store,
      putFile: (path, options) => Effect.suspend(() => (copies.count++, store.putFile(path, options)))
    } satisfies StoreShape
  })).pipe(Layer.provide(layerMemory), Layer.provide(NodeServices.layer))

const run = <A, E>(effect: Effect.Effect<A, E, Store>, copies = { count: 0 }) =>
  Effect.runPromise(Effect.scoped(effect.pipe(Effect.provide(counted(copies)))) as Effect.Effect<A, E>)

describe("external inputs", () => {
  it("import a directory of symbolic links as the files and directories they point to", async () => {
    const blobs = join(dir, "blobs")
    const snapshot = join(dir, "snapshot")
    mkdirSync(join(blobs, "sub"), { recursive: true })
    mkdirSync(snapshot)
    writeFileSync(join(blobs, "config"), "{}")
    writeFileSync(join(blobs, "sub", "weights"), "w")
    symlinkSync(join(blobs, "config"), join(snapshot, "config.json"))
    symlinkSync(join(blobs, "sub"), join(snapshot, "shards"))
    writeFileSync(join(snapshot, "README.md"), "r")
    const ref = await run(Effect.flatMap(loadStatCache, (cache) => importDir(cache, snapshot, ignore)))
    expect(ref.files).toEqual([
      { path: "README.md", size: 1, digest: sha256(join(snapshot, "README.md")) },
      { path: "config.json", size: 2, digest: sha256(join(blobs, "config")) },
      { path: "shards/weights", size: 1, digest: sha256(join(blobs, "sub", "weights")) }
    ])
  })

  it("refuse (and quarantine) a stored directory whose file lost bytes when a stage reads it", async () => {
    const tree = join(dir, "tree")
    mkdirSync(tree)
    writeFileSync(join(tree, "a.txt"), "all of it")
    const outcome = await Effect.runPromise(Effect.scoped(Effect.gen(function*() {
      const store = yield* Store
      const ref = yield* Effect.flatMap(loadStatCache, (cache) => importDir(cache, tree, ignore))
      truncateSync(store.objectPath(ref.files![0]!.digest as never), 3)
      return yield* readArtifacts({ tree: Files() }, { tree: ref }).pipe(Effect.flip)
    }).pipe(Effect.provide(layerDisk(join(dir, "store")).pipe(Layer.provide(NodeServices.layer))))))
    expect(outcome).toMatchObject({ _tag: "DamagedArtifact", name: "tree" })
    expect(outcome.message).toMatch(/^a\.txt: object [0-9a-f]{12}…: size 3, expected 9; moved to quarantine\/$/)
  })

  it("re-hash a touched file in place and copy it only when its bytes changed", async () => {
    const file = join(dir, "data.txt")
    writeFileSync(file, "same bytes")
    const copies = { count: 0 }
    const imported = await run(Effect.gen(function*() {
      const cache = yield* loadStatCache
      const first = yield* importFile(cache, file, ignore)
      const copiedFirst = copies.count
      const later = new Date(Date.now() + 60_000)
      utimesSync(file, later, later)
      const touched = yield* importFile(cache, file, ignore)
      const copiedTouched = copies.count
      writeFileSync(file, "other bytes")
      const changed = yield* importFile(cache, file, ignore)
      return { first, touched, changed, copiedFirst, copiedTouched, copiedChanged: copies.count }
    }), copies)
    expect(imported.touched.digest).toBe(imported.first.digest)
    expect(imported.changed.digest).toBe(sha256(file))
    expect([imported.copiedFirst, imported.copiedTouched, imported.copiedChanged]).toEqual([1, 1, 2])
  })
})
