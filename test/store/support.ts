/**
 * Helpers for store tests: fresh stores per test, and sha256sum as the digest reference.
 */
import { spawnSync } from "node:child_process"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as NodeServices from "@effect/platform-node/NodeServices"
import { Effect, Layer } from "effect"
import type { Scope } from "effect"
import { layerCached } from "../../src/store/CachedStore.ts"
import { layerDisk } from "../../src/store/DiskStore.ts"
import { layerMemory } from "../../src/store/MemoryStore.ts"
import type { Remote } from "../../src/store/Remote.ts"
import type { Store, StoreError } from "../../src/store/Store.ts"

/** A directory removed by `cleanup`; tests register it with afterEach. */
export const tempDir = (prefix: string): { readonly dir: string; readonly cleanup: () => void } => {
  const dir = mkdtempSync(join(tmpdir(), `store-test-${prefix}-`))
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) }
}

/** The disk store in `root`/store. */
export const diskLayer = (root: string): Layer.Layer<Store, StoreError> => layerDisk(join(root, "store")).pipe(Layer.provide(NodeServices.layer))

/** The memory store (`root` unused). */
export const memoryLayer = (): Layer.Layer<Store, StoreError> => layerMemory.pipe(Layer.provide(NodeServices.layer))

/** A disk cache in `root`/cache in front of the shared store `remote`. */
export const cachedLayer = (root: string, remote: Layer.Layer<Remote>): Layer.Layer<Store, StoreError> =>
  layerCached(layerDisk(join(root, "cache"))).pipe(Layer.provide([remote, NodeServices.layer]))

/** Runs a test body against a store built from `layer`, with Node services and a scope. */
export const runWith =
  (layer: Layer.Layer<Store, StoreError>) =>
  <A, E>(effect: Effect.Effect<A, E, Store | Scope.Scope | NodeServices.NodeServices>): Promise<A> =>
    Effect.runPromise(effect.pipe(Effect.scoped, Effect.provide(Layer.merge(layer, NodeServices.layer))))

/** sha256 of a file according to coreutils, the reference digest. */
export const sha256sum = (file: string): string => {
  const result = spawnSync("sha256sum", [file], { encoding: "utf8" })
  if (result.status !== 0) throw new Error(`sha256sum failed: ${result.stderr}`)
  return result.stdout.split(" ")[0]!
}
