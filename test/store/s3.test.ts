/**
 * The store contract (conformance.ts) and the shared store's (remote.ts) on a real S3 endpoint:
 * Ceph's radosgw, started once for this file. Each test gets its own prefix of one bucket.
 */
import { randomUUID } from "node:crypto"
import { basename } from "node:path"
import { PutObjectCommand, type S3Client } from "@aws-sdk/client-s3"
import { afterAll, beforeAll } from "vitest"
import { clientFromEnv, layerS3, makeS3Remote } from "../../src/store/S3Remote.ts"
import { describeRgw, type Rgw, startRgw } from "../support/rgw.ts"
import { describeConformance } from "./conformance.ts"
import { describeRemote } from "./remote.ts"
import { cachedLayer } from "./support.ts"

const bucket = "store-test"

describeRgw("S3 store on radosgw", () => {
  let rgw: Rgw
  const clients: Array<S3Client> = []
  beforeAll(async () => {
    rgw = await startRgw()
    await rgw.createBucket(bucket)
  })
  afterAll(async () => {
    for (const client of clients) client.destroy()
    await rgw?.stop()
  })

  describeConformance("disk cache of an S3 bucket", (root) => cachedLayer(root, layerS3({ bucket, prefix: basename(root) })), { sweeps: false })

  describeRemote("S3", () => {
    const client = clientFromEnv()
    clients.push(client)
    const prefix = `shared-${randomUUID()}`
    return {
      remote: makeS3Remote({ bucket, prefix }, client),
      overwriteObject: async (digest, bytes) =>
        void (await client.send(new PutObjectCommand({ Bucket: bucket, Key: `${prefix}/objects/sha256/${digest.slice(0, 2)}/${digest}`, Body: bytes })))
    }
  })
})
