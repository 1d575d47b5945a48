/**
 * The data stages against TRL's own preprocessing: load → template → tokenize of seeded synthetic
 * conversations (system prompts, multi-turn, tool calls whose arguments are JSON text, as most
 * datasets store them) give, row for row, the input ids SFTTrainer tokenizes from the same file
 * (oracle/trl_tokenize.py: `datasets.load_dataset("json")`, the Qwen3 template, no packing, no
 * truncation). Text arguments must reach the template as text: Qwen3 prints them verbatim.
 */
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { afterAll, expect, it } from "vitest"
import { load } from "../../stages/load.ts"
import { template } from "../../stages/template.ts"
import { tokenize } from "../../stages/tokenize.ts"
import { fixtures } from "../support/fixtures.ts"
import { describeOracle, runOracle } from "../support/oracle.ts"
import { syntheticChats, writeSyntheticChats } from "../support/syntheticChats.ts"
import { runStages } from "./runStages.ts"

const qwen3 = `${fixtures}/tokenizers/qwen3`
const script = fileURLToPath(new URL("oracle/trl_tokenize.py", import.meta.url))
const dir = mkdtempSync(join(tmpdir(), "template-trl-"))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

describeOracle("the data stages against TRL's preprocessing", () => {
  it("gives TRL's input ids on every row, tool calls with text arguments included", async () => {
    const data = join(dir, "chats.jsonl")
    const { rows } = await writeSyntheticChats(data, 11, { rows: 300 })
    const withTextArguments = [...syntheticChats(11, rows)].filter((line) => line.includes('"arguments":"')).length
    expect(withTextArguments).toBeGreaterThan(20)
    const run = await runStages({ name: "template-trl", file: fileURLToPath(import.meta.url) }, (p) => {
      const loaded = p.add(load, { inputs: { train: p.file(data) } })
      const rendered = p.add(template, { inputs: { conversations: loaded.train, tokenizer: p.dir(qwen3) } })
      p.add(tokenize, {
        inputs: { rows: rendered.rendered, tokenizer: p.file(`${qwen3}/tokenizer.json`) },
        config: { mode: "all", maxSeqLength: 1 << 16 }
      })
    })
    expect(run.stage("tokenize").status, run.stage("tokenize").error).toBe("ran")
    const ours: Array<Array<number>> = run.table("tokenize", "tokens").getChild("input_ids")!.toArray().map((ids: Int32Array) => [...ids])
    const trl = JSON.parse(runOracle(script, [data, qwen3, dir])) as Array<Array<number>>
    expect(ours.length).toBe(rows)
    expect(trl.length).toBe(rows)
    const differing = ours.flatMap((ids, row) => (ids.join(",") === trl[row]!.join(",") ? [] : [row]))
    expect(differing, `rows whose ids differ from TRL's (first: ${differing[0]})`).toEqual([])
  }, 180_000)
})
