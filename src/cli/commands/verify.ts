/** `pipeline verify`: re-hashes every object; corrupt ones are quarantined so the next run recomputes them. */
import { Effect } from "effect"
import { Store } from "../../store/Store.ts"
import { bytes } from "../Format.ts"

export const verify = Effect.gen(function*() {
  const store = yield* Store
  const result = yield* store.verifyAll
  process.stdout.write(`verified ${result.checked} objects (${bytes(result.bytes)})\n`)
  if (result.corrupt.length > 0) {
    for (const digest of result.corrupt) process.stdout.write(`corrupt ${digest} (moved to quarantine/)\n`)
    process.stderr.write(`error: ${result.corrupt.length} corrupt object(s); the next run recomputes what needs them\n`)
    process.exitCode = 1
  }
})
