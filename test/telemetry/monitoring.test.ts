/**
 * Monitoring end to end, through the CLI on the default SFT pipeline (train for 12 steps with an
 * evaluation before the first and every 4, then evaluate, select-best and export): plain lines at
 * loggingSteps; TensorBoard event files that TensorBoard's own readers find under `<store>/runs`
 * with the train stage's history and the evaluate stage's metrics; telemetry that changes no key
 * and no digest; a learning rate 100× the pipeline's (0.3 for 3e-3) warned about in the live view,
 * in `show` and in the report; the report of two runs in headless Chromium; Ctrl-C that says how
 * to resume, and the resume.
 */
import { spawn, spawnSync } from "node:child_process"
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs"
import { tmpdir } from "node:os"
import { join, resolve } from "node:path"
import { tableFromIPC } from "apache-arrow"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { eventFiles, readEventFolder } from "../../src/telemetry/EventFile.ts"
import { Tag } from "../../src/telemetry/Tags.ts"
import { describeChromium, launchChromium } from "../support/chromium.ts"
import { describeOracle, runOracle } from "../support/oracle.ts"

const repo = resolve(import.meta.dirname, "../..")
const bin = join(repo, "bin", "pipeline.js")
const sft = join(repo, "pipelines", "sft.ts")
const scratch = mkdtempSync(join(tmpdir(), "monitoring-test-"))
const store = join(scratch, "store")
const runsDir = join(store, "runs")
const env = { ...process.env, NO_COLOR: "1", PIPELINE_STORE: store }
const short = ["--set", "train.maxSteps=12", "--set", "train.evalSteps=4", "--set", "train.loggingSteps=4"]
const tooHigh = ["--set", "train.learningRate=0.3"]
afterAll(() => rmSync(scratch, { recursive: true, force: true }))

interface Result {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

const cli = (...args: ReadonlyArray<string>): Result => {
  const result = spawnSync(process.execPath, [bin, ...args], { cwd: repo, encoding: "utf8", env })
  return { code: result.status, stdout: result.stdout, stderr: result.stderr }
}

const quote = (arg: string) => `'${arg.replaceAll("'", `'\\''`)}'`

/** The CLI on a terminal: `script` gives it a pseudo-TTY, so it draws the live view. */
const onTerminal = (...args: ReadonlyArray<string>): Result => {
  const command = [process.execPath, bin, ...args].map(quote).join(" ")
  const result = spawnSync("script", ["-qec", command, "/dev/null"], { cwd: repo, encoding: "utf8", env })
  return { code: result.status, stdout: result.stdout, stderr: result.stderr }
}

const runIdOf = (result: Result): string => {
  const id = /\(run ([\w-]+)\)\s*$/.exec(result.stdout)?.[1]
  if (id === undefined || result.code !== 0) throw new Error(`run failed (${result.code}):\n${result.stdout}\n${result.stderr}`)
  return id
}

interface StoredRun {
  readonly stages: ReadonlyArray<{ id: string; status: string; key?: string; outputs?: Record<string, { digest: string }> }>
  readonly warnings?: ReadonlyArray<{ stage: string; step: number; kind: string; message: string }>
}

const record = (id: string): StoredRun => JSON.parse(readFileSync(join(runsDir, `${id}.json`), "utf8"))

/** A table output of a run's stage, read from the store's object. */
const tableOf = <Row>(id: string, stage: string, output: string): Array<Row> => {
  const digest = record(id).stages.find((s) => s.id === stage)!.outputs![output]!.digest
  return tableFromIPC(readFileSync(join(store, "objects", "sha256", digest.slice(0, 2), digest))).toArray().map((row) => row.toJSON() as Row)
}

interface HistoryRow {
  readonly step: number
  readonly loss: number
  readonly learning_rate: number
  readonly grad_norm: number
  readonly eval_loss: number | null
}

interface MetricsRow {
  readonly step: number
  readonly eval_loss: number
  readonly eval_token_accuracy: number
  readonly eval_task_metric: number
}

/** The warning kinds a learning rate far too high shows. */
const tooHighSigns = /^(loss-spike|grad-norm-exploding)$/

let plain: Result
let forced: Result
let terminal: Result
let a: string
let b: string
let c: string

beforeAll(() => {
  plain = cli("run", sft, ...short)
  a = runIdOf(plain)
  forced = cli("run", sft, ...short, "--force", "train")
  b = runIdOf(forced)
  terminal = onTerminal("run", sft, ...short, ...tooHigh)
  c = runIdOf(terminal)
})

describe("monitoring", () => {
  it("without a TTY prints a line of scalars at the first step, every loggingSteps and the last", () => {
    const steps = [...plain.stdout.matchAll(/\[train\] step (\d+)\/12 /g)].map((m) => Number(m[1]))
    expect(steps).toEqual([1, 4, 8, 12])
    expect(plain.stdout).toMatch(/\[train\] step 0  eval_loss [\d.]+  eval_ppl \d+\n/)
    const line = plain.stdout.split("\n").find((l) => l.includes("[train] step 8/12"))!
    for (const label of ["loss", "eval_loss", "lr", "grad_norm", "tok/s", "rss", "ETA"]) expect(line).toContain(`${label} `)
  })

  it("telemetry changes no stage key and no output digest, while the event files differ in wall time", () => {
    const [ra, rb] = [record(a), record(b)]
    expect(rb.stages.find((s) => s.id === "train")!.status).toBe("ran")
    expect(rb.stages.map((s) => [s.id, s.key, s.outputs])).toEqual(ra.stages.map((s) => [s.id, s.key, s.outputs]))
    const [ea, eb] = [readEventFolder(join(runsDir, a, "train")), readEventFolder(join(runsDir, b, "train"))]
    for (const tag of [Tag.loss, Tag.learningRate, Tag.gradNorm, Tag.evalLoss, Tag.evalPerplexity]) {
      expect(eb.scalars.get(tag)!.map((p) => [p.step, p.value]), tag).toEqual(ea.scalars.get(tag)!.map((p) => [p.step, p.value]))
    }
    const wall = (t: typeof ea) => t.scalars.get(Tag.loss)!.map((p) => p.wallTime)
    expect(wall(eb)[0]).toBeGreaterThan(wall(ea).at(-1)!)
    expect(readFileSync(eventFiles(join(runsDir, b, "train"))[0]!)).not.toEqual(readFileSync(eventFiles(join(runsDir, a, "train"))[0]!))
  })

  it("a learning rate 100× too high is warned about live, in the run record and by show", () => {
    expect(terminal.stdout).toMatch(/⚠ train step \d+: (loss [\d.]+ is [\d.]+× its moving average|grad norm [\d.]+ > 10)/)
    // The in-place line under the running stage: its latest scalars and the count of warnings.
    expect(terminal.stdout).toMatch(/loss [\d.]+ +(eval_loss [\d.]+ +)?lr [\d.e+-]+ +grad_norm [\d.]+ +tok\/s \d+ +(eval_ppl \S+ +)?rss \d+ MiB +⚠ \d+ warnings?/)
    expect(terminal.stdout).toMatch(/running [\d.]+s +\[[#.]+\] \d+% \d+\/12 +ETA/)
    const warned = record(c).warnings!.filter((w) => tooHighSigns.test(w.kind))
    expect(warned.length).toBeGreaterThan(0)
    const shown = cli("show", c)
    expect(shown.stdout).toMatch(/WARNINGS \(\d+\)/)
    for (const warning of warned) expect(shown.stdout).toContain(`train step ${warning.step}: ${warning.message} — `)
    expect(shown.stdout).toMatch(/reduce it 2–3×/)
    // The healthy run has neither.
    expect(record(a).warnings!.filter((w) => tooHighSigns.test(w.kind))).toEqual([])
  })

  it("interrupted by Ctrl-C, says how to resume, and that command resumes from the checkpoint", async () => {
    const child = spawn(process.execPath, [bin, "run", sft, ...short, "--set", "train.saveSteps=3", "--set", "train.loggingSteps=1"], {
      cwd: repo,
      env,
      stdio: ["ignore", "pipe", "pipe"]
    })
    let stdout = ""
    let stderr = ""
    child.stderr.on("data", (chunk) => (stderr += chunk))
    const code = await new Promise<number | null>((done) => {
      child.stdout.on("data", (chunk) => {
        stdout += chunk
        if (/\[train\] step 5\/12/.test(stdout)) child.kill("SIGINT")
      })
      child.on("close", done)
    })
    expect(code).toBe(130)
    expect(stderr).toMatch(/interrupted \(run [\w-]+\): 7 of 11 stages are committed and will be cached; train resumes from its checkpoint of step 3/)
    const command = /resume with: pipeline (.*)/.exec(stderr)![1]!
    const args = [...command.matchAll(/'([^']*)'|(\S+)/g)].map((m) => m[1] ?? m[2]!)
    const resumed = cli(...args)
    expect(resumed.stdout).toContain("resumed from the checkpoint of step 3")
    expect(resumed.stdout).toMatch(/succeeded .* 7 cached, 4 ran/)
  })
})

describeOracle("TensorBoard reads the event files", () => {
  it("finds every tag with the train history's and the evaluate metrics' steps and values, and the config as text", () => {
    const read = (name: string) => JSON.parse(runOracle(join(import.meta.dirname, "oracle", "read_events.py"), [runsDir, name]))
    const train = read(`${a}/train`)
    const evaluated = read(`${a}/evaluate`)
    expect(train.runs).toEqual(expect.arrayContaining([`${a}/train`, `${a}/evaluate`, `${b}/train`, `${c}/train`]))
    const rows = tableOf<HistoryRow>(a, "train", "history")
    const evals = rows.filter((row) => row.eval_loss !== null)
    const metrics = tableOf<MetricsRow>(a, "evaluate", "metrics")
    const before = metrics.find((row) => row.step === 0)!
    const series = (run: typeof train, tag: string) => (run.scalars[tag] as Array<[number, number, number]>).map(([step, value]) => [step, value])
    // TensorBoard's scalars are float32, as PyTorch's SummaryWriter writes them for the Trainer.
    const f = Math.fround
    const expected: Record<string, Array<[number, number]>> = {
      [Tag.loss]: rows.map((r) => [r.step, f(r.loss)]),
      [Tag.learningRate]: rows.map((r) => [r.step, f(r.learning_rate)]),
      [Tag.gradNorm]: rows.map((r) => [r.step, f(r.grad_norm)]),
      // Step 0 is evalOnStart's evaluation of the untrained model: evaluate's checkpoint-0.
      [Tag.evalLoss]: [[0, f(before.eval_loss)], ...evals.map((r): [number, number] => [r.step, f(r.eval_loss!)])],
      [Tag.evalPerplexity]: [[0, f(Math.exp(before.eval_loss))], ...evals.map((r): [number, number] => [r.step, f(Math.exp(r.eval_loss!))])]
    }
    expect(evals.map((r) => r.step)).toEqual([4, 8, 12])
    for (const [tag, points] of Object.entries(expected)) expect(series(train, tag), tag).toEqual(points)
    for (const tag of [Tag.tokensPerSecond, Tag.memoryMiB]) {
      expect(series(train, tag).map(([step]) => step), tag).toEqual(rows.map((r) => r.step))
      expect(series(train, tag).every(([, value]) => value > 0), tag).toBe(true)
    }
    expect(series(evaluated, "eval/task_metric")).toEqual(metrics.map((r) => [r.step, f(r.eval_task_metric)]))
    expect(series(evaluated, "eval/token_accuracy")).toEqual(metrics.map((r) => [r.step, f(r.eval_token_accuracy)]))
    const config = train.texts.config[0]
    expect(config[1]).toContain("pipeline **sft**")
    expect(config[1]).toContain(`"maxSteps": 12`)
  })
})

describeChromium("the report of two runs in headless Chromium", () => {
  it("has no console errors, one series per run in every chart, the difference and the warnings", async () => {
    const html = join(scratch, "report.html")
    const made = cli("report", a, c, "-o", html)
    expect(made.stdout).toContain("2 runs, 9 charts")
    const { context, close } = await launchChromium()
    try {
      const page = await context.newPage()
      await page.setViewportSize({ width: 1280, height: 900 })
      const errors: Array<string> = []
      page.on("console", (message) => message.type() === "error" && errors.push(message.text()))
      page.on("pageerror", (error) => errors.push(String(error)))
      // Any request but the file itself would be the network: the page must need none.
      const requests: Array<string> = []
      page.on("request", (request) => request.url() !== `file://${html}` && requests.push(request.url()))
      await page.goto(`file://${html}`)
      await page.waitForSelector(".uplot")
      const charts = await page.$$eval(".chart", (boxes) =>
        boxes.map((box) => ({
          title: box.querySelector(".u-title")?.textContent ?? "",
          series: [...box.querySelectorAll(".u-legend .u-series")].slice(1).map((row) => row.textContent?.trim() ?? "")
        })))
      expect(charts.map((chart) => chart.title)).toEqual([
        Tag.loss, Tag.evalLoss, Tag.learningRate, Tag.gradNorm, Tag.tokensPerSecond, Tag.evalPerplexity, Tag.memoryMiB,
        "eval/task_metric", "eval/token_accuracy"
      ])
      for (const chart of charts) {
        expect(chart.series.length, chart.title).toBe(2)
        expect(chart.series[0], chart.title).toContain(a)
        expect(chart.series[1], chart.title).toContain(c)
      }
      const text = await page.textContent("body")
      expect(text).toContain("config /train/learningRate")
      for (const warning of record(c).warnings!) expect(text).toContain(warning.message)
      // The evaluate stage's answers of its last checkpoint.
      expect(text).toMatch(/evaluate \(\d+ of \d+ rows, step 12\)/)
      expect(errors).toEqual([])
      expect(requests).toEqual([])
      const shots = join(tmpdir(), "sft-pipeline-report")
      mkdirSync(shots, { recursive: true })
      const shot = join(shots, "report-two-runs.png")
      await page.screenshot({ path: shot, fullPage: true })
      expect(existsSync(shot) && statSync(shot).size > 10_000).toBe(true)
      console.log(`report screenshot: ${shot}`)
    } finally {
      await close()
    }
  })
})
