/**
 * A real S3 endpoint for tests: Ceph's radosgw on a throwaway one-node cluster
 * (scripts/ceph-rgw.sh), started on free ports once per test file and stopped by PID afterwards.
 * Where Ceph is not installed those tests are skipped with the reason printed, and fail under CI
 * (see optional.ts); `.ci/run` installs it.
 */
import { spawn, spawnSync } from "node:child_process"
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs"
import { createServer } from "node:net"
import { tmpdir } from "node:os"
import { join, resolve } from "node:path"
import { fileURLToPath } from "node:url"
import { CreateBucketCommand } from "@aws-sdk/client-s3"
import { clientFromEnv } from "../../src/store/S3Remote.ts"
import { requiredInCi } from "./optional.ts"

const script = resolve(fileURLToPath(import.meta.url), "../../../scripts/ceph-rgw.sh")
const programs = ["ceph-mon", "ceph-osd", "radosgw", "radosgw-admin", "monmaptool", "ceph", "curl"]
const onPath = (program: string) => spawnSync("sh", ["-c", `command -v ${program}`]).status === 0
const missing = programs.filter((program) => !onPath(program))

/** `describe` that runs only where Ceph's radosgw can be started. */
export const describeRgw = requiredInCi(
  missing.length === 0,
  `Ceph not installed (${missing.join(", ")} missing; apt-get install --no-install-recommends radosgw ceph-mon ceph-osd)`
)

/** A port nothing listens on now. */
const freePort = () =>
  new Promise<number>((resolvePort, reject) => {
    const server = createServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number }
      server.close(() => resolvePort(port))
    })
  })

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

const alive = (pid: number) => {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

const stopPids = async (pids: ReadonlyArray<number>) => {
  for (const pid of pids) if (alive(pid)) process.kill(pid, "SIGTERM")
  for (let waited = 0; waited < 100 && pids.some(alive); waited++) await new Promise((r) => setTimeout(r, 50))
  for (const pid of pids) if (alive(pid)) process.kill(pid, "SIGKILL")
}

/** Starts radosgw (about 12 s) and sets the AWS variables of this process to reach it. */
export const startRgw = async (): Promise<Rgw> => {
  const dir = mkdtempSync(join(tmpdir(), "rgw-"))
  const [port, mon, monV1] = [await freePort(), await freePort(), await freePort()]
  const output = await new Promise<{ code: number | null; text: string }>((resolveRun) => {
    const child = spawn(script, [dir, String(port), String(mon), String(monV1)], { stdio: ["ignore", "pipe", "pipe"] })
    let text = ""
    child.stdout.on("data", (chunk) => (text += chunk))
    child.stderr.on("data", (chunk) => (text += chunk))
    child.on("close", (code) => resolveRun({ code, text }))
  })
  const pids = ["rgw", "osd", "mon"].flatMap((name) => {
    const file = join(dir, `${name}.pid`)
    return existsSync(file) ? [Number(readFileSync(file, "utf8").trim())] : []
  })
  const stop = async () => {
    await stopPids(pids)
    rmSync(dir, { recursive: true, force: true })
  }
  if (output.code !== 0) {
    await stop()
    throw new Error(`scripts/ceph-rgw.sh failed (${output.code}):\n${output.text}`)
  }
  const endpoint = `http://127.0.0.1:${port}`
  const env = { AWS_ENDPOINT_URL: endpoint, AWS_ACCESS_KEY_ID: "CIACCESSKEY", AWS_SECRET_ACCESS_KEY: "CISECRETKEY", AWS_REGION: "us-east-1" }
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
