/**
 * Stages as Slurm jobs. Each stage whose inputs are ready is submitted with `sbatch` as a job
 * running that one stage (the CLI's `stage-job` command) against the shared store; the driver
 * follows it with `scontrol show job` at a short interval (never `sbatch --wait`, which returns
 * seconds late), replays what its stage reports (log, progress, scalars: JobEvents.ts) as it
 * comes, and `scancel`s it when the run is interrupted. A failed job is reported with its exit
 * code and the end of its output file (stdout and stderr).
 *
 * Every wait is bounded: each Slurm command has a timeout, and a job that stays pending longer
 * than `pendingTimeoutMs` (a request no node can satisfy queues forever) is cancelled and reported
 * with Slurm's reason.
 */
import { execFile } from "node:child_process"
import { mkdirSync } from "node:fs"
import { open } from "node:fs/promises"
import { join } from "node:path"
import { Effect, Option } from "effect"
import type { Resources } from "../Resources.ts"
import { shellWord } from "../ShellWord.ts"
import { StageFailure } from "../StageFailure.ts"
import type { Executor, StageJob } from "./Executor.ts"
import { parseJobEvent } from "./JobEvents.ts"

/** How the driver submits and follows jobs. */
export interface SlurmOptions {
  /** The command a job runs for `job` (argv; the program first), writing its stage's events to `eventsFile` (JobEvents.ts). */
  readonly command: (job: StageJob, eventsFile: string) => ReadonlyArray<string>
  /** Where the job output files go: `<dir>/<runId>/slurm/<instance>.<jobid>.log`. */
  readonly logDir: string
  /** The directory jobs start in. */
  readonly cwd: string
  readonly pendingTimeoutMs: number
  /** Between two looks at a job's state (and its output). */
  readonly pollMs?: number
}

/** Seconds any one Slurm command may take before the driver gives up on it. */
const commandTimeoutMs = 30_000

/** Job states after which Slurm runs nothing more for the job. */
const finished = new Set(["COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "OUT_OF_MEMORY", "NODE_FAIL", "PREEMPTED", "BOOT_FAIL", "DEADLINE"])

/** How many lines of a failed job's output its error shows. */
const tailLines = 20

const slurm = (program: string, args: ReadonlyArray<string>) =>
  Effect.callback<string, Error>((resume) => {
    const child = execFile(program, [...args], { timeout: commandTimeoutMs, encoding: "utf8" }, (error, stdout, stderr) => {
      if (error === null) resume(Effect.succeed(stdout))
      else resume(Effect.fail(new Error(`${program} ${args.join(" ")}: ${stderr.trim() || error.message}`)))
    })
    return Effect.sync(() => child.kill())
  })

/** sbatch's options for a resource request. */
export const sbatchResources = (resources: Resources): ReadonlyArray<string> => [
  ...(resources.cpus === undefined ? [] : [`--cpus-per-task=${resources.cpus}`]),
  ...(resources.memory === undefined ? [] : [`--mem=${resources.memory}`]),
  ...(resources.gpus === undefined || resources.gpus === 0 ? [] : [`--gres=gpu:${resources.gpus}`]),
  ...(resources.time === undefined ? [] : [`--time=${resources.time}`]),
  ...(resources.partition === undefined ? [] : [`--partition=${resources.partition}`]),
  ...(resources.account === undefined ? [] : [`--account=${resources.account}`])
]

/** A job's state as `scontrol show job -o` prints it; "GONE" once Slurm has forgotten the job. */
const jobState = (jobId: string) =>
  slurm("scontrol", ["show", "job", "-o", jobId]).pipe(
    Effect.map((text) => ({
      state: /\bJobState=(\S+)/.exec(text)?.[1] ?? "UNKNOWN",
      exitCode: /\bExitCode=(\d+):(\d+)/.exec(text)?.slice(1).map(Number) ?? [0, 0],
      reason: /\bReason=(\S+)/.exec(text)?.[1] ?? "None"
    })),
    Effect.catch((error) =>
      /Invalid job id/i.test(error.message) ? Effect.succeed({ state: "GONE", exitCode: [0, 0], reason: "None" }) : Effect.fail(error)
    )
  )

/** Follows a growing file, handing complete lines to `line`; keeps the last lines for errors. */
const follower = (file: string, line: (text: string) => void) => {
  let offset = 0
  let partial = ""
  const last: Array<string> = []
  const emit = (text: string) => {
    line(text)
    last.push(text)
    if (last.length > tailLines) last.shift()
  }
  const read = async (final: boolean) => {
    const handle = await open(file, "r").catch(() => undefined)
    if (handle !== undefined) {
      try {
        const buffer = Buffer.alloc(1 << 16)
        for (;;) {
          const { bytesRead } = await handle.read(buffer, 0, buffer.length, offset)
          if (bytesRead === 0) break
          offset += bytesRead
          partial += buffer.toString("utf8", 0, bytesRead)
        }
      } finally {
        await handle.close()
      }
    }
    const lines = partial.split("\n")
    partial = lines.pop()!
    for (const text of lines) emit(text)
    if (final && partial !== "") emit(partial)
  }
  return { read: (final: boolean) => Effect.promise(() => read(final)), tail: () => last.join("\n") }
}

/** The Slurm executor. */
export const slurmExecutor = (options: SlurmOptions): Executor => ({
  _tag: "Jobs",
  name: "slurm",
  run: (job) => {
    const failure = (message: string) => new StageFailure({ stage: job.id, message })
    const dir = join(options.logDir, job.runId, "slurm")
    const eventsFile = join(dir, `${job.id}.events.jsonl`)
    const submit = Effect.gen(function*() {
      yield* Effect.sync(() => mkdirSync(dir, { recursive: true }))
      const output = yield* slurm("sbatch", [
        "--parsable",
        `--job-name=${job.id}`,
        `--chdir=${options.cwd}`,
        `--output=${join(dir, `${job.id}.%j.log`)}`,
        ...sbatchResources(job.resources),
        `--wrap=exec ${options.command(job, eventsFile).map(shellWord).join(" ")}`
      ])
      return output.trim().split(";")[0]!
    }).pipe(Effect.mapError((error) => failure(`sbatch failed: ${error.message}`)))
    return Effect.acquireUseRelease(
      submit,
      (jobId) =>
        Effect.gen(function*() {
          job.log(`slurm job ${jobId} submitted`)
          const out = follower(join(dir, `${job.id}.${jobId}.log`), () => undefined)
          const events = follower(eventsFile, (line) =>
            Option.match(parseJobEvent(line), {
              onNone: () => job.log(line),
              onSome: (event) => {
                switch (event.type) {
                  case "log":
                    return job.log(event.message)
                  case "progress":
                    return job.progress(event.done, event.total)
                  case "scalars":
                    return job.scalars(event.step, event.values)
                }
              }
            }))
          const pollMs = options.pollMs ?? 200
          const submittedAt = Date.now()
          let started = false
          for (;;) {
            const now = yield* jobState(jobId).pipe(Effect.mapError((error) => failure(`following slurm job ${jobId}: ${error.message}`)))
            yield* events.read(false)
            if (!started && now.state === "RUNNING") {
              started = true
              job.log(`slurm job ${jobId} started after ${((Date.now() - submittedAt) / 1000).toFixed(2)} s`)
            }
            if (now.state === "PENDING" && Date.now() - submittedAt > options.pendingTimeoutMs) {
              return yield* failure(`slurm job ${jobId} still pending after ${Math.round(options.pendingTimeoutMs / 1000)} s (reason: ${now.reason}); cancelled`)
            }
            if (finished.has(now.state) || now.state === "GONE") {
              yield* events.read(true)
              yield* out.read(true)
              const [code, signal] = now.exitCode as [number, number]
              if (now.state === "COMPLETED" || (now.state === "GONE" && code === 0)) return
              const how = signal !== 0 ? `killed by signal ${signal}` : `exit code ${code}`
              const tail = out.tail()
              return yield* failure(`slurm job ${jobId} ${now.state} (${how})${tail === "" ? "" : `; its output ended:\n${tail}`}`)
            }
            yield* Effect.sleep(pollMs)
          }
        }),
      // Cancels a job still queued or running; one that ended ignores it.
      (jobId, exit) => (exit._tag === "Success" ? Effect.void : slurm("scancel", [jobId]).pipe(Effect.ignore))
    )
  }
})
