/**
 * A second process for disk-store tests: `put <root> <barrier> <file>` stores a file and prints its
 * ref; `count <root> <barrier> <counterFile> <n>` increments a counter file n times under withLock,
 * slowly enough that two unsynchronised processes would lose updates; `churn <root> <barrier> <dir>`
 * saves checkpoints and a document in a loop until it is killed; `pin <root> <barrier> <out>` pins an
 * object it writes and one it checks, writes their refs to <out> and waits to be killed. All first wait at a barrier
 * (a directory where each of two workers drops a file) so that the workers really run at once
 * rather than one after the other, whatever their start-up times.
 */
import { readdirSync, readFileSync, renameSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import * as NodeServices from "@effect/platform-node/NodeServices"
import { Effect } from "effect"
import { layerDisk } from "../../../src/store/DiskStore.ts"
import { Store } from "../../../src/store/Store.ts"

const [mode, root, barrier, ...args] = process.argv.slice(2)

const meetAtBarrier = Effect.gen(function* () {
  writeFileSync(join(barrier!, String(process.pid)), "")
  while (readdirSync(barrier!).length < 2) yield* Effect.sleep("2 millis")
})

const program = Effect.gen(function* () {
  const store = yield* Store
  yield* meetAtBarrier
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
    case "churn": {
      // Saves checkpoint i (every file holds i) and document {n: i} for i = 1, 2, ... until killed.
      const state = args[0]!
      for (let i = 1; ; i++) {
        for (const name of ["a.bin", "b.bin"]) writeFileSync(join(state, name), `${i}\n`.repeat(200_000))
        yield* store.saveCheckpoint("churn", i, state)
        yield* store.putDocument("runs", "churn", { n: i, pad: "x".repeat(1_000_000) })
      }
    }
    case "pin": {
      // Pins one object it writes and one it checks, reports both, then waits to be killed.
      yield* store.pinning
      const written = yield* store.putBytes(new TextEncoder().encode(`written by ${process.pid}`))
      const checked = yield* store.putBytes(new TextEncoder().encode(`checked by ${process.pid}`))
      yield* store.hasObject(checked)
      writeFileSync(`${args[0]!}.tmp`, JSON.stringify({ written, checked }))
      renameSync(`${args[0]!}.tmp`, args[0]!)
      // A timer, unlike Effect.never, keeps the process (and so its pins) alive until it is killed.
      return yield* Effect.sleep("1 hour")
    }
    default:
      return yield* Effect.die(new Error(`unknown mode ${mode}`))
  }
})

Effect.runPromise(program.pipe(Effect.scoped, Effect.provide(layerDisk(root!)), Effect.provide(NodeServices.layer))).catch((error) => {
  console.error(error)
  process.exit(1)
})
