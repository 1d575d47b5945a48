/**
 * A second process for disk-store tests: `put <root> <file>` stores a file and prints its ref;
 * `count <root> <counterFile> <n>` increments a counter file n times under withLock, slowly enough
 * that two unsynchronised processes would lose updates.
 */
import { readFileSync, writeFileSync } from "node:fs"
import * as NodeServices from "@effect/platform-node/NodeServices"
import { Effect } from "effect"
import { layerDisk } from "../../../src/store/DiskStore.ts"
import { Store } from "../../../src/store/Store.ts"

const [mode, root, ...args] = process.argv.slice(2)

const program = Effect.gen(function* () {
  const store = yield* Store
  switch (mode) {
    case "put": {
      const ref = yield* store.putFile(args[0]!)
      process.stdout.write(`${JSON.stringify(ref)}\n`)
      return
    }
    case "count": {
      const counter = args[0]!
      for (let i = 0; i < Number(args[1]); i++) {
        yield* store.withLock(
          "counter",
          Effect.gen(function* () {
            const value = Number(readFileSync(counter, "utf8"))
            yield* Effect.sleep("20 millis")
            writeFileSync(counter, String(value + 1))
          })
        )
      }
      return
    }
    default:
      return yield* Effect.die(new Error(`unknown mode ${mode}`))
  }
})

Effect.runPromise(program.pipe(Effect.provide(layerDisk(root!)), Effect.provide(NodeServices.layer))).catch((error) => {
  console.error(error)
  process.exit(1)
})
