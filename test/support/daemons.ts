/**
 * Starting and stopping the real servers some tests need (radosgw, Slurm): free ports, a start
 * script's output, and stopping what it started by PID (startDaemons).
 */
import { spawn, spawnSync } from "node:child_process"
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs"
import { createServer } from "node:net"
import { tmpdir } from "node:os"
import { join, resolve } from "node:path"
import { fileURLToPath } from "node:url"

/** The repo's scripts/ directory. */
const scripts = resolve(fileURLToPath(import.meta.url), "../../../scripts")

/** The programs of `programs` that are not on the PATH. */
export const missingPrograms = (programs: ReadonlyArray<string>): Array<string> =>
  programs.filter((program) => spawnSync("sh", ["-c", `command -v ${program}`]).status !== 0)

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

/** Runs a start script to its end; its combined output for errors. */
const runScript = (script: string, args: ReadonlyArray<string>, env: NodeJS.ProcessEnv = process.env) =>
  new Promise<{ code: number | null; text: string }>((resolveRun) => {
    const child = spawn(script, [...args], { stdio: ["ignore", "pipe", "pipe"], env })
    let text = ""
    child.stdout.on("data", (chunk) => (text += chunk))
    child.stderr.on("data", (chunk) => (text += chunk))
    child.on("close", (code) => resolveRun({ code, text }))
  })

/** The PIDs in `dir`/<name>.pid for each name whose file exists. */
const pidsIn = (dir: string, names: ReadonlyArray<string>): Array<number> =>
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
const stopPids = async (pids: ReadonlyArray<number>) => {
  for (const pid of pids) if (alive(pid)) process.kill(pid, "SIGTERM")
  for (let waited = 0; waited < 100 && pids.some(alive); waited++) await new Promise((r) => setTimeout(r, 50))
  for (const pid of pids) if (alive(pid)) process.kill(pid, "SIGKILL")
}

/**
 * Runs scripts/`script` with a new temp directory and `ports` (free ones) as its arguments; the
 * directory and a stop that ends the processes named in its .pid files (in that order) and removes
 * it. Throws with the script's output, after stopping what it started, if it fails.
 */
export const startDaemons = async (script: string, ports: number, pidNames: ReadonlyArray<string>) => {
  const dir = mkdtempSync(join(tmpdir(), `${script.replace(/\.sh$/, "")}-`))
  const portList: Array<number> = []
  for (let i = 0; i < ports; i++) portList.push(await freePort())
  const output = await runScript(join(scripts, script), [dir, ...portList.map(String)])
  const pids = pidsIn(dir, pidNames)
  const stop = async () => {
    await stopPids(pids)
    rmSync(dir, { recursive: true, force: true })
  }
  if (output.code !== 0) {
    await stop()
    throw new Error(`scripts/${script} failed (${output.code}):\n${output.text}`)
  }
  return { dir, ports: portList, stop }
}
