/** The shared store's contract on the in-memory implementation (s3.test.ts runs it on a real bucket). */
import { makeMemoryRemote } from "../../src/store/MemoryRemote.ts"
import { describeRemote } from "./remote.ts"

describeRemote("memory", () => {
  const { remote, objects } = makeMemoryRemote()
  return { remote, overwriteObject: async (digest, bytes) => void objects.set(digest, bytes) }
})
