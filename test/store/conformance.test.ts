/**
 * The store contract (conformance.ts) on the local implementations, and on a disk cache in front of
 * a shared store held in memory (the bucket's counterpart, see s3.test.ts for the real one).
 */
import { layerMemoryRemote } from "../../src/store/MemoryRemote.ts"
import { describeConformance } from "./conformance.ts"
import { cachedLayer, diskLayer, memoryLayer } from "./support.ts"

describeConformance("disk", diskLayer, { sweeps: true })
describeConformance("memory", memoryLayer, { sweeps: true })
describeConformance("disk cache of a shared store in memory", (root) => cachedLayer(root, layerMemoryRemote()), { sweeps: false })
