/**
 * The disk store for the CLI: `--store`, else PIPELINE_STORE, else `.pipeline/` in the working directory.
 */
import { resolve } from "node:path"
import { Layer } from "effect"
import * as NodeServices from "@effect/platform-node/NodeServices"
import { layerDisk } from "../store/DiskStore.ts"

/** The store root the CLI uses. */
export const storeRoot = (flag: string | undefined): string =>
  resolve(flag ?? process.env.PIPELINE_STORE ?? ".pipeline")

/** The disk store at `root`, with the Node services it needs. */
export const storeLayer = (root: string) => layerDisk(root).pipe(Layer.provide(NodeServices.layer))
