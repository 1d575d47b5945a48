/**
 * The report as one self-contained HTML file: the data as JSON, uPlot (its minified build and
 * stylesheet, from the npm package) and the page's own script and styles all inlined, so the file
 * opens anywhere without a network. The page script draws one chart per tag, a series per run.
 */
import { readFileSync } from "node:fs"
import { createRequire } from "node:module"
import { duration } from "../Format.ts"
import { formatWarning } from "../../telemetry/Warning.ts"
import type { ReportData, ReportRun } from "./ReportData.ts"

/** The files inlined into every report. */
export interface Assets {
  readonly uplotJs: string
  readonly uplotCss: string
  readonly pageJs: string
  readonly pageCss: string
}

export const loadAssets = (): Assets => {
  const require = createRequire(import.meta.url)
  const read = (path: string) => readFileSync(path, "utf8")
  return {
    uplotJs: read(require.resolve("uplot/dist/uPlot.iife.min.js")),
    uplotCss: read(require.resolve("uplot/dist/uPlot.min.css")),
    pageJs: read(new URL("./report.page.js", import.meta.url).pathname),
    pageCss: read(new URL("./report.page.css", import.meta.url).pathname)
  }
}

/** Series colours, one per run in order (Okabe–Ito, told apart by colour-blind readers too). */
export const palette = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#F0E442"]

const colorOf = (index: number) => palette[index % palette.length]!

const escape = (text: string) =>
  text.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;").replaceAll('"', "&quot;")

/** Text inside a <script> element must not close it early. */
const scriptText = (text: string) => text.replaceAll("</script", "<\\/script")

const swatch = (index: number) => `<span class="swatch" style="background:${colorOf(index)}"></span>`

const runsTable = (runs: ReadonlyArray<ReportRun>) => `
<table>
  <thead><tr><th>run</th><th>pipeline</th><th>status</th><th>started</th><th>duration</th><th>seed</th><th>--set</th><th>warnings</th></tr></thead>
  <tbody>${runs.map((run, i) => `
    <tr><td>${swatch(i)}<code>${escape(run.id)}</code></td><td>${escape(run.pipeline)} <span class="dim">${escape(run.file)}</span></td>
      <td>${escape(run.status)}${run.sanity ? " (sanity)" : ""}</td><td>${escape(run.startedAt)}</td><td>${duration(run.durationMs ?? undefined)}</td>
      <td>${run.seed}</td><td>${run.overrides.map((o) => `<code>${escape(o)}</code>`).join(" ")}</td><td>${run.warnings.length}</td></tr>`).join("")}
  </tbody>
</table>`

const differences = (data: ReportData) =>
  data.differences.length === 0 ? "" : `
<section><h2>Differences</h2>${data.differences.map((diff) => `
  <h3><code>${escape(diff.a)}</code> → <code>${escape(diff.b)}</code></h3>
  ${diff.stages.length === 0 ? `<p class="dim">no stage keys differ</p>` : `<pre>${diff.stages.map((stage) =>
    [stage.head, ...stage.reasons.map((reason) => `  ${reason}`)].map(escape).join("\n")).join("\n")}</pre>`}`).join("")}
</section>`

const warnings = (runs: ReadonlyArray<ReportRun>) => `
<section><h2>Warnings</h2>${runs.map((run, i) => `
  <h3>${swatch(i)}<code>${escape(run.id)}</code></h3>
  ${run.warnings.length === 0 ? `<p class="dim">none</p>` : `<ul class="warnings">${run.warnings.map((w) =>
    `<li><b>${escape(w.kind)}</b> ${escape(formatWarning(w))}</li>`).join("")}</ul>`}`).join("")}
</section>`

const stageTables = (runs: ReadonlyArray<ReportRun>) => `
<section><h2>Stages</h2>${runs.map((run, i) => `
  <h3>${swatch(i)}<code>${escape(run.id)}</code></h3>
  <table class="stages">
    <thead><tr><th>stage</th><th>status</th><th>duration</th><th>key</th><th>telemetry</th></tr></thead>
    <tbody>${run.stages.map((stage) => `
      <tr><td>${escape(stage.id)}${stage.stage === stage.id ? "" : ` <span class="dim">(${escape(stage.stage)})</span>`}</td>
        <td class="status-${escape(stage.status)}">${stage.status === "hit" ? "hit (cached)" : escape(stage.status)}</td>
        <td>${stage.status === "hit" ? "" : duration(stage.durationMs ?? undefined)}</td>
        <td><code>${stage.key === null ? "-" : escape(stage.key)}</code></td>
        <td>${stage.telemetryFrom === undefined ? "" : `from run <code>${escape(stage.telemetryFrom)}</code>`}</td></tr>`).join("")}
    </tbody>
  </table>`).join("")}
</section>`

const configs = (runs: ReadonlyArray<ReportRun>) => `
<section><h2>Config</h2>${runs.map((run, i) => `
  <details${i === 0 ? " open" : ""}><summary>${swatch(i)}<code>${escape(run.id)}</code></summary>
    <p>seed ${run.seed}${run.sanity ? ", sanity" : ""}${run.overrides.length === 0 ? "" : `, --set ${run.overrides.map(escape).join(" ")}`}</p>
    ${run.stages.map((stage) => `<h4>${escape(stage.id)}</h4><pre>${escape(JSON.stringify(stage.config, null, 2))}</pre>`).join("")}
  </details>`).join("")}
</section>`

const samples = (runs: ReadonlyArray<ReportRun>) =>
  runs.every((run) => run.samples.length === 0) ? "" : `
<section><h2>Samples</h2>${runs.map((run, i) => run.samples.map((table) => `
  <h3>${swatch(i)}<code>${escape(run.id)}</code> ${escape(table.stage)} <span class="dim">(${table.rows.length} of ${table.total} rows${table.step === undefined ? "" : `, step ${table.step}`})</span></h3>
  <table class="samples">
    <thead><tr>${table.columns.map((c) => `<th>${escape(c)}</th>`).join("")}</tr></thead>
    <tbody>${table.rows.map((row) => `<tr>${row.map((c) => `<td>${escape(c)}</td>`).join("")}</tr>`).join("")}</tbody>
  </table>`).join("")).join("")}
</section>`

/** The whole page. */
export const reportPage = (data: ReportData, assets: Assets, generatedAt: Date): string => {
  const payload = { runs: data.runs.map((run, i) => ({ id: run.id, color: colorOf(i), scalars: run.scalars })), tags: data.tags }
  const title = data.runs.length === 1 ? `run ${data.runs[0]!.id}` : `${data.runs.length} runs`
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>pipeline report: ${escape(title)}</title>
<style>${assets.uplotCss}</style>
<style>${assets.pageCss}</style>
</head>
<body>
<header><h1>pipeline report: ${escape(title)}</h1><p class="dim">generated ${escape(generatedAt.toISOString())}</p></header>
<section><h2>Runs</h2>${runsTable(data.runs)}</section>
<section><h2>Curves</h2>
  ${data.tags.length === 0
    ? `<p class="dim">no run here has step telemetry (TensorBoard event files)</p>`
    : `<p><label><input type="checkbox" id="log-scale"> log scale</label></p>`}
  <div id="charts"></div>
</section>
${differences(data)}
${warnings(data.runs)}
${stageTables(data.runs)}
${configs(data.runs)}
${samples(data.runs)}
<script type="application/json" id="report-data">${JSON.stringify(payload).replaceAll("<", "\\u003c")}</script>
<script>${scriptText(assets.uplotJs)}</script>
<script>${scriptText(assets.pageJs)}</script>
</body>
</html>
`
}
