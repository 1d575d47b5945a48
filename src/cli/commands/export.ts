/**
 * `pipeline export <run> <dir> [--stage S] [--force]`: copies a finished stage's outputs out of the
 * store into a directory of the user's, hashing every byte as it is copied (a corrupt object is
 * never exported). One directory output fills `dir` itself; otherwise each output gets
 * `dir/<output>` (`.arrow` for tables). A README.md at the top gains a provenance section from the
 * run record: the run, its external inputs with their digests, and every stage's key and config.
 */
import { Effect } from "effect"
import { appendFile, mkdir, readdir, rm, stat } from "node:fs/promises"
import { dirname, join, resolve } from "node:path"
import type { ArtifactRef, RunRecord, RunStage } from "../../runner/Records.ts"
import { hashCopy } from "../../store/HashFile.ts"
import { Store } from "../../store/Store.ts"
import type { Digest } from "../../store/Store.ts"
import { resolveRun } from "../RunRef.ts"
import { UsageError } from "../UserError.ts"

export interface ExportArgs {
  readonly run: string
  readonly dir: string
  readonly stage: string
  readonly force: boolean
}

/** A file to write: where it goes (relative to the target) and the object it is. */
interface Planned {
  readonly path: string
  readonly digest: Digest
  readonly size: number
}

const plan = (outputs: Readonly<Record<string, ArtifactRef>>): Array<Planned> => {
  const entries = Object.entries(outputs)
  const single = entries.length === 1 && entries[0]![1].kind === "files"
  return entries.flatMap(([name, ref]) => {
    switch (ref.kind) {
      case "files":
        return (ref.files ?? []).map((f) => ({ path: single ? f.path : `${name}/${f.path}`, digest: f.digest, size: f.size }))
      case "table":
        return [{ path: `${name}.arrow`, digest: ref.digest, size: ref.size }]
      case "blob":
        return [{ path: name, digest: ref.digest, size: ref.size }]
    }
  })
}

const provenance = (run: RunRecord, stage: RunStage): string => {
  const rows = [
    "",
    "## Provenance",
    "",
    `Exported with \`pipeline export\` from the \`${stage.id}\` stage of run \`${run.id}\` (pipeline \`${run.pipeline.name}\`, ` +
      `${run.pipeline.file}, seed ${run.seed}${run.overrides.length > 0 ? `, ${run.overrides.map((o) => `--set ${o}`).join(" ")}` : ""}).`,
    "",
    "| input | sha256 |",
    "|---|---|",
    ...run.external.map((e) => `| ${e.id} | ${e.artifact.digest} |`),
    "",
    "| stage | key | config |",
    "|---|---|---|",
    ...run.stages.map((s) => `| ${s.id} | ${s.key?.slice(0, 16) ?? "—"} | \`${JSON.stringify(s.manifest?.config ?? null)}\` |`)
  ]
  return rows.join("\n") + "\n"
}

const usage = (message: string) => new UsageError({ message })

export const exportOutputs = (args: ExportArgs) =>
  Effect.gen(function*() {
    const store = yield* Store
    const run = yield* resolveRun(args.run)
    const stage = run.stages.find((s) => s.id === args.stage)
    if (stage === undefined) {
      return yield* usage(`run ${run.id} has no stage "${args.stage}" (stages: ${run.stages.map((s) => s.id).join(", ")}); choose one with --stage`)
    }
    if (stage.outputs === undefined || (stage.status !== "ran" && stage.status !== "hit")) {
      return yield* usage(`stage ${stage.id} did not finish in run ${run.id} (${stage.status})`)
    }
    const target = resolve(args.dir)
    const existing = yield* Effect.promise(() => readdir(target).catch(() => null))
    if (existing === null && (yield* Effect.promise(() => stat(target).then(() => true, () => false)))) {
      return yield* usage(`${args.dir} exists and is not a directory`)
    }
    if (existing !== null && existing.length > 0) {
      if (!args.force) return yield* usage(`${args.dir} is not empty; pass --force to replace what is in it`)
      yield* Effect.promise(() => rm(target, { recursive: true }))
    }
    const files = plan(stage.outputs)
    const bytes = yield* Effect.gen(function*() {
      let total = 0
      for (const file of files) {
        const destination = join(target, file.path)
        yield* Effect.promise(() => mkdir(dirname(destination), { recursive: true }))
        const copied = yield* Effect.tryPromise({
          try: () => hashCopy(store.objectPath(file.digest), destination, 0o644),
          catch: (cause) => usage(`cannot export ${file.path}: ${(cause as Error).message}`)
        })
        if (copied.digest !== file.digest || copied.size !== file.size) {
          return yield* usage(
            `${file.path}: the stored object ${file.digest.slice(0, 12)}… is corrupt (read ${copied.size} bytes, sha256 ` +
              `${copied.digest.slice(0, 12)}…); nothing was exported: run the pipeline again, which recomputes it`
          )
        }
        total += copied.size
      }
      if (files.some((f) => f.path === "README.md")) {
        yield* Effect.promise(() => appendFile(join(target, "README.md"), provenance(run, stage)))
      }
      return total
    }).pipe(Effect.tapError(() => Effect.promise(() => rm(target, { recursive: true, force: true }))))
    process.stdout.write(`exported ${files.length} files (${(bytes / 2 ** 20).toFixed(1)} MiB) of ${stage.id} from run ${run.id} to ${args.dir}\n`)
  })
