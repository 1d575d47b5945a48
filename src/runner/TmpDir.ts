/**
 * A scoped scratch directory under the store's tmp/, named like the store's own entries so
 * `store.sweep` removes those of dead processes.
 *
 * Not `store.makeTmpDir`: in the current disk store that Effect computes its directory name once,
 * so a second use in the same process fails with AlreadyExists (reported to the store's owner).
 */
import { mkdir, rm } from "node:fs/promises"
import { join } from "node:path"
import { Effect } from "effect"
import { tmpName } from "../store/Owner.ts"
import { Store, StoreError } from "../store/Store.ts"

/** A fresh directory under `<store>/tmp/`, removed when the scope closes. */
export const scopedTmpDir = Effect.gen(function*() {
  const store = yield* Store
  return yield* Effect.acquireRelease(
    Effect.tryPromise({
      try: async () => {
        const dir = join(store.root, "tmp", tmpName("dir"))
        await mkdir(dir, { recursive: true })
        return dir
      },
      catch: (cause) => new StoreError({ method: "makeTmpDir", key: "tmp", message: String(cause), cause })
    }),
    (dir) => Effect.promise(() => rm(dir, { recursive: true, force: true }))
  )
})
