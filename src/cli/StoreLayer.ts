/**
 * The disk store for the CLI: `--store`, else PIPELINE_STORE, else `.pipeline/` in the working
 * directory. A root that cannot hold a store is reported naming where the path came from.
 */
import { resolve } from "node:path"
import { Effect, Layer } from "effect"
import * as NodeServices from "@effect/platform-node/NodeServices"
import { layerDisk } from "../store/DiskStore.ts"
import { UsageError } from "./UserError.ts"

/** The store root the CLI uses, and what chose it (for messages). */
export const storeRoot = (flag: string | undefined): { readonly root: string; readonly origin: string } =>
  flag !== undefined
    ? { root: resolve(flag), origin: `--store ${flag}` }
    : process.env.PIPELINE_STORE !== undefined
    ? { root: resolve(process.env.PIPELINE_STORE), origin: `PIPELINE_STORE=${process.env.PIPELINE_STORE}` }
    : { root: resolve(".pipeline"), origin: "the default store .pipeline" }

/** The disk store chosen by `flag`, with the Node services it needs. */
export const storeLayer = (flag: string | undefined) => {
  const { root, origin } = storeRoot(flag)
  return layerDisk(root).pipe(
    Layer.catchTag("StoreError", (error) => Layer.effectDiscard(Effect.fail(new UsageError({ message: `${origin}: ${error.message}` })))),
    Layer.provide(NodeServices.layer)
  )
}
