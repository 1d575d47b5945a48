/**
 * `pipeline report <run> [<run>…] [-o report.html]`: one self-contained HTML page over the runs:
 * their curves overlaid, stage tables, configs and the differences between them, warnings, and
 * the samples an evaluate stage wrote. main.ts imports this module only when the command runs, so
 * no other command loads the charting library or the event-file decoder.
 */
import { writeFileSync } from "node:fs"
import { resolve } from "node:path"
import { Effect } from "effect"
import { loadAssets, reportPage } from "../report/ReportPage.ts"
import { reportData } from "../report/ReportData.ts"
import { resolveRun } from "../RunRef.ts"
import { UsageError } from "../UserError.ts"

export const report = (refs: ReadonlyArray<string>, output: string) =>
  Effect.gen(function*() {
    const runs = yield* Effect.forEach(refs, resolveRun)
    const data = yield* reportData(runs)
    const path = resolve(output)
    const html = reportPage(data, loadAssets(), new Date())
    yield* Effect.try({
      try: () => writeFileSync(path, html),
      catch: (error) => new UsageError({ message: `cannot write ${path}: ${error instanceof Error ? error.message : String(error)}` })
    })
    const charts = data.tags.length === 0 ? "no curves" : `${data.tags.length} charts`
    process.stdout.write(`wrote ${path}: ${runs.length} run${runs.length === 1 ? "" : "s"}, ${charts}\n`)
  })
