/**
 * What `pipeline report` shows of each run, gathered from the store: the run record (stages,
 * config, warnings), the scalars of its TensorBoard event files, the differences between runs (as
 * `explain` says them) and the rows of any `samples` table a stage wrote (the evaluate stage's
 * generated samples).
 *
 * Each stage's telemetry is its own folder of event files, `runs/<runId>/<stage>/`. A run that
 * took a stage from the cache did not compute its telemetry: its curves come from the newest run
 * that did compute that stage key and still has its event files. A tag that two stages of one run
 * report is shown as `tag (stage)` for each.
 */
import { join } from "node:path"
import { Effect, Option } from "effect"
import type { RunRecord } from "../../runner/Records.ts"
import { Store } from "../../store/Store.ts"
import { eventFiles, readEventFolder } from "../../telemetry/EventFile.ts"
import type { Point } from "../../telemetry/EventFile.ts"
import { sortTags } from "../../telemetry/Tags.ts"
import { BadRecord } from "../../telemetry/TfRecord.ts"
import type { Warning } from "../../telemetry/Warning.ts"
import { explainRuns, formatExplained } from "../ExplainRuns.ts"
import { readRun, runIds } from "../RunRef.ts"

/** The most rows of a samples table a report shows. */
export const sampleRows = 20

/** One scalar series: steps and values, index by index. */
export type Series = readonly [steps: ReadonlyArray<number>, values: ReadonlyArray<number>]

export interface ReportStage {
  readonly id: string
  readonly stage: string
  readonly status: string
  readonly key: string | null
  readonly durationMs: number | null
  readonly config: unknown
  /** The run whose event files hold this stage's telemetry, when it is another run (the stage was cached). */
  readonly telemetryFrom?: string
}

export interface ReportSamples {
  readonly stage: string
  /** When the table has a `step` column (one set of answers per checkpoint): the last step, whose rows are shown. */
  readonly step?: number
  readonly columns: ReadonlyArray<string>
  readonly rows: ReadonlyArray<ReadonlyArray<string>>
  readonly total: number
}

export interface ReportRun {
  readonly id: string
  readonly pipeline: string
  readonly file: string
  readonly status: string
  readonly startedAt: string
  readonly durationMs: number | null
  readonly seed: number
  readonly sanity: boolean
  readonly overrides: ReadonlyArray<string>
  readonly stages: ReadonlyArray<ReportStage>
  readonly warnings: ReadonlyArray<Warning>
  /** Scalar series by tag. */
  readonly scalars: Readonly<Record<string, Series>>
  readonly samples: ReadonlyArray<ReportSamples>
}

export interface ReportDifference {
  readonly a: string
  readonly b: string
  /** `explain`'s text, one entry per stage whose key differs. */
  readonly stages: ReadonlyArray<{ readonly head: string; readonly reasons: ReadonlyArray<string> }>
}

export interface ReportData {
  readonly runs: ReadonlyArray<ReportRun>
  /** Every tag any run has, in display order: one chart each. */
  readonly tags: ReadonlyArray<string>
  /** Each run after the first against the first. */
  readonly differences: ReadonlyArray<ReportDifference>
}

const seriesOf = (points: ReadonlyArray<Point>): Series => {
  // A resumed stage reports the steps after its checkpoint again: the last report of a step wins.
  const byStep = new Map<number, number>()
  for (const point of points) byStep.set(point.step, point.value)
  const steps = [...byStep.keys()].sort((a, b) => a - b)
  return [steps, steps.map((step) => byStep.get(step)!)]
}

const readTelemetry = (dir: string) =>
  Effect.try({
    try: () => readEventFolder(dir),
    catch: (error) => error instanceof BadRecord ? error : new BadRecord({ offset: 0, message: String(error) })
  })

const cell = (value: unknown): string =>
  value === null || value === undefined ? "" : typeof value === "object" ? JSON.stringify(value) : String(value)

/** The rows of every `samples` table among the run's stage outputs (of its last step, when it has steps). */
const samplesOf = (run: RunRecord) =>
  Effect.gen(function*() {
    const store = yield* Store
    const found: Array<ReportSamples> = []
    for (const stage of run.stages) {
      const ref = stage.outputs?.samples
      if (ref === undefined || ref.kind !== "table") continue
      const bytes = yield* store.readBytes({ digest: ref.digest, size: ref.size })
      const arrow = yield* Effect.promise(() => import("apache-arrow"))
      const table = arrow.tableFromIPC(bytes)
      const columns = table.schema.fields.map((field) => field.name)
      const all = table.toArray().map((row) => row.toJSON() as Record<string, unknown>)
      const step = columns.includes("step") && all.length > 0 ? Math.max(...all.map((row) => Number(row.step))) : undefined
      const rows = all.filter((row) => step === undefined || Number(row.step) === step).slice(0, sampleRows)
        .map((row) => columns.map((column) => cell(row[column])))
      found.push({ stage: stage.id, ...(step === undefined ? {} : { step }), columns, rows, total: table.numRows })
    }
    return found
  })

/** The scalars of one run by tag, and its stages with where their telemetry came from. */
const telemetryOf = (run: RunRecord, runsDir: string, producers: ReadonlyMap<string, ReadonlyArray<string>>) =>
  Effect.gen(function*() {
    const stages: Array<ReportStage> = []
    const perStage: Array<{ readonly stage: string; readonly scalars: ReadonlyMap<string, ReadonlyArray<Point>> }> = []
    for (const stage of run.stages) {
      const hasEvents = (id: string) => eventFiles(join(runsDir, id, stage.id)).length > 0
      const source = hasEvents(run.id)
        ? run.id
        : stage.status === "hit" && stage.key !== undefined
        ? producers.get(stage.key)?.find(hasEvents)
        : undefined
      if (source !== undefined) {
        perStage.push({ stage: stage.id, scalars: (yield* readTelemetry(join(runsDir, source, stage.id))).scalars })
      }
      stages.push({
        id: stage.id,
        stage: stage.stage,
        status: stage.status,
        key: stage.key ?? null,
        durationMs: stage.durationMs ?? null,
        config: stage.manifest?.config ?? null,
        ...(source === undefined || source === run.id ? {} : { telemetryFrom: source })
      })
    }
    const reporters = new Map<string, number>()
    for (const { scalars } of perStage) for (const tag of scalars.keys()) reporters.set(tag, (reporters.get(tag) ?? 0) + 1)
    const scalars: Record<string, Series> = {}
    for (const { stage, scalars: series } of perStage) {
      for (const [tag, points] of series) scalars[reporters.get(tag)! > 1 ? `${tag} (${stage})` : tag] = seriesOf(points)
    }
    return { stages, scalars }
  })

/** Gathers the report of `runs`, in the order given. */
export const reportData = (runs: ReadonlyArray<RunRecord>) =>
  Effect.gen(function*() {
    const store = yield* Store
    const runsDir = join(store.root, "runs")
    // Who computed each stage key, newest first: the telemetry of stages other runs took from the cache.
    const producers = new Map<string, Array<string>>()
    for (const id of (yield* runIds).reverse()) {
      const record = yield* readRun(id).pipe(Effect.option)
      if (Option.isNone(record)) continue
      for (const stage of record.value.stages) {
        if (stage.status !== "ran" || stage.key === undefined) continue
        producers.set(stage.key, [...(producers.get(stage.key) ?? []), id])
      }
    }
    const reported: Array<ReportRun> = []
    for (const run of runs) {
      const { stages, scalars } = yield* telemetryOf(run, runsDir, producers)
      reported.push({
        id: run.id,
        pipeline: run.pipeline.name,
        file: run.pipeline.file,
        status: run.status,
        startedAt: run.startedAt,
        durationMs: run.durationMs ?? null,
        seed: run.seed,
        sanity: run.sanity,
        overrides: run.overrides,
        stages,
        warnings: run.warnings ?? [],
        scalars,
        samples: yield* samplesOf(run)
      })
    }
    const first = runs[0]
    const differences = first === undefined
      ? []
      : runs.slice(1).map((run) => ({ a: first.id, b: run.id, stages: explainRuns(first, run).map(formatExplained) }))
    const data: ReportData = { runs: reported, tags: sortTags(reported.flatMap((run) => Object.keys(run.scalars))), differences }
    return data
  })
