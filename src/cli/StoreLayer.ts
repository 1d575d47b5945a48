/**
 * The store for the CLI. `--store` (else PIPELINE_STORE, else `.pipeline/` in the working
 * directory) names a directory, or a bucket as `s3://bucket/prefix`: then the store is a local
 * cache in front of the bucket (CachedStore.ts), in `--cache DIR`, by default
 * `.pipeline/cache/s3/<bucket>/<prefix>`. The default is a cache of its own rather than the local
 * store itself so that every record in it came through the bucket: records computed before the
 * store was shared would otherwise be hits here and never reach teammates.
 *
 * A root that cannot hold a store is reported naming where the path came from.
 */
import { join, resolve } from "node:path"
import { Effect, Layer } from "effect"
import * as NodeServices from "@effect/platform-node/NodeServices"
import { layerCached } from "../store/CachedStore.ts"
import { layerDisk } from "../store/DiskStore.ts"
import { parseS3Url } from "../store/S3Location.ts"
import { Store } from "../store/Store.ts"
import { UsageError } from "./UserError.ts"

/** The `--store` and `--cache` flags as given. */
export interface StoreFlags {
  readonly store: string | undefined
  readonly cache: string | undefined
}

/** Where the store is, and what chose it (for messages). */
export const storeLocation = (flag: string | undefined): { readonly location: string; readonly origin: string } =>
  flag !== undefined
    ? { location: flag, origin: `--store ${flag}` }
    : process.env.PIPELINE_STORE !== undefined
    ? { location: process.env.PIPELINE_STORE, origin: `PIPELINE_STORE=${process.env.PIPELINE_STORE}` }
    : { location: ".pipeline", origin: "the default store .pipeline" }

/** A store layer that fails with a usage error. */
const refused = (message: string) => Layer.effect(Store, Effect.fail(new UsageError({ message })))

const diskLayer = (root: string, origin: string) =>
  layerDisk(resolve(root)).pipe(Layer.catchTag("StoreError", (error) => refused(`${origin}: ${error.message}`)))

/**
 * The store the flags choose, with the Node services it needs. With `cacheOnly` (gc, verify) a
 * bucket's local cache alone: they never delete or quarantine what teammates share.
 */
export const storeLayer = (flags: StoreFlags, options: { readonly cacheOnly?: boolean } = {}) => {
  const { location, origin } = storeLocation(flags.store)
  const bucket = location.startsWith("s3:") ? parseS3Url(location) : undefined
  if (location.startsWith("s3:") && (bucket === undefined || bucket.bucket === "")) {
    return refused(`${origin}: expected s3://bucket or s3://bucket/prefix`)
  }
  if (bucket === undefined) {
    if (flags.cache !== undefined) {
      return refused(`--cache ${flags.cache}: only a store in a bucket (--store s3://…) has a cache`)
    }
    return diskLayer(location, origin).pipe(Layer.provide(NodeServices.layer))
  }
  const cache = flags.cache !== undefined
    ? { root: flags.cache, origin: `--cache ${flags.cache}` }
    : { root: join(".pipeline", "cache", "s3", bucket.bucket, ...bucket.prefix.split("/").filter((part) => part !== "")), origin: `the cache of ${location}` }
  const local = diskLayer(cache.root, cache.origin)
  // Imported here: only a store in a bucket needs the AWS SDK (60-140 ms to load here, measured with require).
  const remote = Layer.unwrap(Effect.promise(() => import("../store/S3Remote.ts")).pipe(Effect.map(({ layerS3 }) => layerS3(bucket))))
  return (options.cacheOnly === true ? local : layerCached(local).pipe(Layer.provide(remote))).pipe(Layer.provide(NodeServices.layer))
}
