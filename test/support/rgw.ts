/**
 * A real S3 endpoint for tests: Ceph's radosgw on a throwaway one-node cluster
 * (scripts/ceph-rgw.sh), started on free ports once per test file and stopped by PID afterwards.
 * Where Ceph is not installed those tests are skipped with the reason printed, and fail under CI
 * (see optional.ts); `.ci/run` installs it.
 */
import { CreateBucketCommand } from "@aws-sdk/client-s3"
import { clientFromEnv } from "../../src/store/S3Remote.ts"
import { missingPrograms, startDaemons } from "./daemons.ts"
import { requiredInCi } from "./optional.ts"

const missing = missingPrograms(["ceph-mon", "ceph-osd", "radosgw", "radosgw-admin", "monmaptool", "ceph", "curl"])

/** Why radosgw cannot be started here, if it cannot. */
export const rgwMissing = missing.length === 0
  ? undefined
  : `Ceph not installed (${missing.join(", ")} missing; apt-get install --no-install-recommends radosgw ceph-mon ceph-osd)`

/** `describe` that runs only where Ceph's radosgw can be started. */
export const describeRgw = requiredInCi(rgwMissing === undefined, rgwMissing ?? "")

/** A running radosgw and what a client needs to reach it. */
export interface Rgw {
  readonly endpoint: string
  /** The AWS variables that point a client (or a child process) at it. */
  readonly env: Readonly<Record<string, string>>
  /** Creates a bucket (names are per test file, so files never share one). */
  readonly createBucket: (name: string) => Promise<void>
  /** Stops every process it started, by PID, and removes its directory. */
  readonly stop: () => Promise<void>
}

/** Starts radosgw (about 12 s) and sets the AWS variables of this process to reach it. */
export const startRgw = async (): Promise<Rgw> => {
  // The script's arguments after the directory: RGW_PORT MON_PORT MON_V1_PORT.
  const { ports: [port], stop } = await startDaemons("ceph-rgw.sh", 3, ["rgw", "osd", "mon"])
  const endpoint = `http://127.0.0.1:${port}`
  const env = {
    AWS_ENDPOINT_URL: endpoint,
    AWS_ACCESS_KEY_ID: "CIACCESSKEY",
    AWS_SECRET_ACCESS_KEY: "CISECRETKEY",
    AWS_REGION: "us-east-1",
    // The SDK warns on every start under Node 20, which the project supports.
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true"
  }
  Object.assign(process.env, env)
  const client = clientFromEnv()
  return {
    endpoint,
    env,
    createBucket: async (name) => void (await client.send(new CreateBucketCommand({ Bucket: name }))),
    stop: async () => {
      client.destroy()
      await stop()
    }
  }
}
