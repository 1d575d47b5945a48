/**
 * Starting and stopping the real servers some tests need (radosgw, Slurm): free ports, a start
 * script's output, and stopping what it started by PID.
 */
import { spawn, spawnSync } from "node:child_process"
import { existsSync, readFileSync } from "node:fs"
import { createServer } from "node:net"
import { join, resolve } from "node:path"
import { fileURLToPath } from "node:url"

/** The repo's scripts/ directory. */
export const scripts = resolve(fileURLToPath(import.meta.url), "../../../scripts")

/** The programs of `programs` that are not on the PATH. */
export const missingPrograms = (programs: ReadonlyArray<string>): Array<string> =>
  programs.filter((program) => spawnSync("sh", ["-c", `command -v ${program}`]).status !== 0)

/** A port nothing listens on now. */
export const freePort = () =>
  new Promise<number>((resolvePort, reject) => {
    const server = createServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number }
      server.close(() => resolvePort(port))
    })
  })

/** Runs a start script to its end; its combined output for errors. */
export const runScript = (script: string, args: ReadonlyArray<string>, env: NodeJS.ProcessEnv = process.env) =>
  new Promise<{ code: number | null; text: string }>((resolveRun) => {
    const child = spawn(script, [...args], { stdio: ["ignore", "pipe", "pipe"], env })
    let text = ""
    child.stdout.on("data", (chunk) => (text += chunk))
    child.stderr.on("data", (chunk) => (text += chunk))
    child.on("close", (code) => resolveRun({ code, text }))
  })

/** The PIDs in `dir`/<name>.pid for each name whose file exists. */
export const pidsIn = (dir: string, names: ReadonlyArray<string>): Array<number> =>
  names.flatMap((name) => {
    const file = join(dir, `${name}.pid`)
    return existsSync(file) ? [Number(readFileSync(file, "utf8").trim())] : []
  })

const alive = (pid: number) => {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

/** SIGTERM, up to 5 s to exit, then SIGKILL. */
export const stopPids = async (pids: ReadonlyArray<number>) => {
  for (const pid of pids) if (alive(pid)) process.kill(pid, "SIGTERM")
  for (let waited = 0; waited < 100 && pids.some(alive); waited++) await new Promise((r) => setTimeout(r, 50))
  for (const pid of pids) if (alive(pid)) process.kill(pid, "SIGKILL")
}
