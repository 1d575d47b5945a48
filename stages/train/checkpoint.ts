/**
 * The train stage's mid-run checkpoint: the engine's full training state (weights, Adam moments,
 * step, sampling RNG), the log history and best evaluation so far, and the Hugging Face
 * checkpoints kept so far (they are outputs, so a resumed run must still hold them). Restoring it
 * and continuing gives the same bits as never stopping, because the data order is a pure function
 * of the seed and the step.
 *
 *   dir/state.safetensors   param/<name>, m/<name>, v/<name>, flat fp32
 *   dir/state.json          { step, rng, history, best }
 *   dir/checkpoints/        the kept checkpoint-<step>/ directories
 */
import { Effect } from "effect"
import { cp, readFile, writeFile } from "node:fs/promises"
import { join } from "node:path"
import type { TrainingState, Weights } from "../../native/index.ts"
import { readSafetensors, writeSafetensors } from "../../native/safetensors.ts"
import type { Tensor } from "../../native/safetensors.ts"
import { StageFailure } from "../../src/index.ts"
import type { Best } from "./hfCheckpoint.ts"
import type { HistoryRow } from "./history.ts"

const kinds = ["param", "m", "v"] as const
const stateKey = { param: "weights", m: "m", v: "v" } as const

const failure = (message: string) => (cause: unknown) => new StageFailure({ stage: "train", message, cause })

/** Where training stands besides the engine's state. */
export interface Progress {
  readonly history: ReadonlyArray<HistoryRow>
  readonly best: Best | undefined
}

/** Writes `state`, `progress` and a copy of the kept checkpoints under `kept` into `dir` (which must exist). */
export const writeCheckpoint = (dir: string, state: TrainingState, progress: Progress, kept: string) =>
  Effect.gen(function*() {
    const tensors: Record<string, Tensor> = {}
    for (const kind of kinds) {
      for (const [name, data] of Object.entries(state[stateKey[kind]])) tensors[`${kind}/${name}`] = { shape: [data.length], data }
    }
    yield* writeSafetensors(join(dir, "state.safetensors"), tensors).pipe(Effect.mapError(failure("cannot write checkpoint")))
    const json = JSON.stringify({ step: state.step, rng: [...state.rng], history: progress.history, best: progress.best ?? null })
    yield* Effect.tryPromise({ try: () => writeFile(join(dir, "state.json"), json), catch: failure("cannot write checkpoint") })
    yield* Effect.tryPromise({ try: () => cp(kept, join(dir, "checkpoints"), { recursive: true }), catch: failure("cannot write checkpoint") })
  })

/** Reads what {@link writeCheckpoint} wrote, and copies its kept checkpoints back to `kept`. */
export const readCheckpoint = (dir: string, kept: string) =>
  Effect.gen(function*() {
    const tensors = yield* readSafetensors(join(dir, "state.safetensors")).pipe(Effect.mapError(failure(`cannot read checkpoint ${dir}`)))
    const text = yield* Effect.tryPromise({ try: () => readFile(join(dir, "state.json"), "utf8"), catch: failure(`cannot read checkpoint ${dir}`) })
    const json = JSON.parse(text) as { step: number; rng: Array<number>; history: Array<HistoryRow>; best: Best | null }
    const parts: Record<(typeof kinds)[number], Weights> = { param: {}, m: {}, v: {} }
    for (const [key, tensor] of Object.entries(tensors)) {
      const slash = key.indexOf("/")
      parts[key.slice(0, slash) as (typeof kinds)[number]][key.slice(slash + 1)] = tensor.data
    }
    yield* Effect.tryPromise({ try: () => cp(join(dir, "checkpoints"), kept, { recursive: true }), catch: failure(`cannot read checkpoint ${dir}`) })
    const state: TrainingState = { step: json.step, rng: Uint32Array.from(json.rng), weights: parts.param, m: parts.m, v: parts.v }
    const progress: Progress = { history: json.history, best: json.best ?? undefined }
    return { state, progress }
  })
