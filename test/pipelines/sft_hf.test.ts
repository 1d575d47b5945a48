/**
 * `pipelines/sft-hf.ts` on pretrained directories as transformers' save_pretrained writes them
 * (tiny random models of each layout the engine runs, with real tokenizers and their chat
 * templates): the whole DAG runs with `--set model.path=…`, and its export loads in transformers
 * with our logits, prompts and greedy answers.
 */
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, beforeAll, expect, it } from "vitest"
import { pipelineCli } from "../support/cli.ts"
import { fixtures } from "../support/fixtures.ts"
import { describeOracle, runOracle } from "../support/oracle.ts"
import { checkExport } from "./exportCheck.ts"

const tokenizers = `${fixtures}/tokenizers`
// Qwen2.5's template with the vocabulary Qwen2.5 shares with Qwen3 (see the fixtures' SOURCES.md).
const qwen25 = (dir: string) => {
  mkdirSync(dir)
  copyFileSync(`${tokenizers}/qwen2.5/tokenizer_config.json`, join(dir, "tokenizer_config.json"))
  copyFileSync(`${tokenizers}/qwen3/tokenizer.json`, join(dir, "tokenizer.json"))
  return dir
}

describeOracle("pipelines/sft-hf.ts on pretrained directories", () => {
  const root = mkdtempSync(join(tmpdir(), "sft-hf-"))
  afterAll(() => rmSync(root, { recursive: true, force: true }))
  const layouts = [
    { architecture: "llama", tokenizer: () => `${tokenizers}/phi-3-mini` },
    { architecture: "mistral", tokenizer: () => `${tokenizers}/phi-3-mini` },
    { architecture: "qwen2", tokenizer: () => qwen25(join(root, "qwen2.5-tokenizer")) },
    { architecture: "qwen3", tokenizer: () => `${tokenizers}/qwen3` }
  ]
  const models: Record<string, string> = {}
  beforeAll(() => {
    for (const [seed, layout] of layouts.entries()) {
      const out = join(root, layout.architecture)
      runOracle(join(import.meta.dirname, "oracle", "tiny_checkpoint.py"), [], JSON.stringify({ out, architecture: layout.architecture, tokenizer: layout.tokenizer(), seed }))
      models[layout.architecture] = out
    }
  }, 300_000)

  for (const { architecture } of layouts) {
    it(`fine-tunes and exports a ${architecture} directory`, async () => {
      const store = join(root, `store-${architecture}`)
      const cli = (...args: Array<string>) => pipelineCli([...args, "--store", store])
      const run = await cli("run", "pipelines/sft-hf.ts", "--set", `model.path=${models[architecture]}`,
        "--set", "train.maxSteps=2", "--set", "evaluate.maxNewTokens=8", "--set", "evaluate.maxPrompts=2")
      expect(run.code, run.stdout + run.stderr).toBe(0)
      expect(run.stdout).toMatch(/learningRate not set: 0.00005 for [\d.]+M parameters \(TRL chapter, section 2.1\)/)
      const out = join(root, `export-${architecture}`)
      expect((await cli("export", "last", out)).code).toBe(0)
      await checkExport(cli, out, mkdtempSync(join(root, `check-${architecture}-`)), 8)
    }, 300_000)
  }

  it("says how to point the model input at a directory when it is missing", async () => {
    const run = await pipelineCli(["run", "pipelines/sft-hf.ts", "--store", join(root, "store-missing")])
    expect(run.code).toBe(1)
    expect(run.stderr).toContain(`point input "model" elsewhere with --set model.path=<path>`)
  })
})
