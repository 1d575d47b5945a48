/**
 * The README's first command, end to end: `pipeline run pipelines/sft.ts` trains the embedded
 * default, its held-out answers go from garbage to naming the assistant, and `pipeline export`
 * writes a directory that transformers loads with our logits, our greedy answers and our chat
 * template. Changing evaluate's config reruns evaluate, never train; a bf16, sharded export is
 * torch's own rounding of the fp32 one.
 */
import * as arrow from "apache-arrow"
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, beforeAll, expect, it } from "vitest"
import { pipelineCli } from "../support/cli.ts"
import { describeOracle, runOracle } from "../support/oracle.ts"
import { checkExport } from "./exportCheck.ts"

const oracle = (name: string) => join(import.meta.dirname, "..", "stages", "oracle", name)
const readTable = (file: string) => arrow.tableFromIPC(readFileSync(file))
const rows = (table: arrow.Table) => table.toArray().map((row) => row.toJSON() as Record<string, any>)

describeOracle("the default pipeline", () => {
  const root = mkdtempSync(join(tmpdir(), "sft-default-"))
  const store = join(root, "store")
  const cli = (...args: Array<string>) => pipelineCli([...args, "--store", store])
  let first: { stdout: string; code: number | null }
  afterAll(() => rmSync(root, { recursive: true, force: true }))

  beforeAll(async () => {
    first = await cli("run", "pipelines/sft.ts")
  }, 600_000)

  it("runs every stage and shows held-out answers before and after training", async () => {
    expect(first.code, first.stdout).toBe(0)
    expect(first.stdout).toMatch(/succeeded in .*: 11 stages, 0 cached, 11 ran/)
    expect(first.stdout).toMatch(/checkpoint-0: ✗/)
    expect(first.stdout).toMatch(/checkpoint-\d+: ✓ ".*Ada/)
    const evaluation = join(root, "evaluation")
    expect((await cli("export", "last", evaluation, "--stage", "evaluate")).code).toBe(0)
    const metrics = rows(readTable(join(evaluation, "metrics.arrow")))
    console.log(metrics.map((m) => `${m.checkpoint}: eval_loss ${m.eval_loss.toFixed(3)} task_metric ${m.eval_task_metric}`).join("\n"))
    expect(metrics[0]).toMatchObject({ checkpoint: "checkpoint-0" })
    expect(metrics[0]!.eval_task_metric).toBeLessThanOrEqual(0.1)
    expect(metrics.at(-1)!.eval_task_metric).toBeGreaterThanOrEqual(0.8)
    expect(metrics.at(-1)!.eval_loss).toBeLessThan(metrics[0]!.eval_loss / 3)
  })

  it("exports a directory transformers loads with our logits, greedy answers and chat template", async () => {
    const out = join(root, "model")
    const exported = await cli("export", "last", out)
    expect(exported.code, exported.stderr).toBe(0)
    expect(readdirSync(out).sort()).toEqual(["README.md", "config.json", "generation_config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"])
    expect(readFileSync(join(out, "README.md"), "utf8")).toMatch(/## Provenance[\s\S]*file:data\/identity.json \| fd029da7/)
    const again = await cli("export", "last", out)
    expect(again.code).toBe(1)
    expect(again.stderr).toContain("is not empty; pass --force")

    await checkExport(cli, out, mkdtempSync(join(root, "check-")), 64)
  }, 300_000)

  it("reruns evaluate and what follows when only its config changes, never train", async () => {
    const rerun = await cli("run", "pipelines/sft.ts", "--set", "evaluate.maxNewTokens=32")
    expect(rerun.code, rerun.stderr).toBe(0)
    const shown = JSON.parse((await cli("show", "last", "--json")).stdout) as { stages: Array<{ name: string; status: string }> }
    const status = Object.fromEntries(shown.stages.map((s) => [s.name, s.status]))
    expect(status).toMatchObject({ load: "hit", tokenize: "hit", pack: "hit", train: "hit", evaluate: "ran" })
  }, 300_000)

  it("exports bf16 shards that are torch's rounding of the fp32 weights", async () => {
    const rerun = await cli("run", "pipelines/sft.ts", "--set", "export.dtype=bfloat16", "--set", "export.maxShardSize=4MB")
    expect(rerun.code, rerun.stderr).toBe(0)
    const out = join(root, "bf16")
    expect((await cli("export", "last", out)).code).toBe(0)
    const index = JSON.parse(readFileSync(join(out, "model.safetensors.index.json"), "utf8"))
    expect(new Set(Object.values(index.weight_map)).size).toBeGreaterThan(1)
    const check = JSON.parse(runOracle(oracle("bf16_export.py"), [], JSON.stringify({ fp32: join(root, "model"), bf16: out })))
    expect(check).toMatchObject({ dtype: "torch.bfloat16", differ: [] })
    expect(check.tensors).toBeGreaterThan(10)
  }, 300_000)
})
