/**
 * The real CLI (`node bin/pipeline.js`) run in the repository, for tests of the shipped pipelines.
 */
import { spawn } from "node:child_process"
import { resolve } from "node:path"

export const repo = resolve(import.meta.dirname, "../..")

export interface CliResult {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

/** Runs `pipeline <args>` in the repository without a TTY or colours; resolves when it exits. */
export const pipelineCli = (args: ReadonlyArray<string>): Promise<CliResult> =>
  new Promise((done) => {
    const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: "1" }
    delete env.PIPELINE_STORE
    const child = spawn(process.execPath, [resolve(repo, "bin", "pipeline.js"), ...args], { cwd: repo, env, stdio: ["ignore", "pipe", "pipe"] })
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (chunk) => (stdout += chunk))
    child.stderr.on("data", (chunk) => (stderr += chunk))
    child.on("close", (code) => done({ code, stdout, stderr }))
  })
