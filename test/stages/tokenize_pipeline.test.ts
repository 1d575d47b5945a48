/**
 * load → template → tokenize through the engine (memory store): real datasets and tokenizers,
 * tables checked against the declared schemas, metrics in the record, row-naming failures and
 * counted skips, and `inspect` on the stored output. Every row's ids are compared with the
 * tokenizer library's own `encode` of the rendered text (the positioned encoder must not change ids).
 */
import { Effect } from "effect"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import { load } from "../../stages/load.ts"
import { template } from "../../stages/template.ts"
import { loadEncoder, tokenize } from "../../stages/tokenize.ts"
import { fixtures } from "../support/fixtures.ts"
import { runStages, tableReader } from "./runStages.ts"

const qwen3 = `${fixtures}/tokenizers/qwen3`
const phi3 = `${fixtures}/tokenizers/phi-3-mini`

interface Setup {
  readonly data: string
  readonly loadConfig?: Record<string, unknown>
  readonly dir: string
  readonly templateConfig?: Record<string, unknown>
  readonly tokenizeConfig?: Record<string, unknown>
}

const run = async (setup: Setup) => {
  const result = await runStages({ name: "tokenize-test", file: join(import.meta.dirname, "tokenize_pipeline.test.ts") }, (p) => {
    const data = p.add(load, { inputs: { train: p.file(setup.data) }, config: setup.loadConfig ?? {} })
    const model = p.dir(setup.dir)
    const rendered = p.add(template, { inputs: { conversations: data.train, tokenizer: model }, config: setup.templateConfig ?? {} })
    p.add(tokenize, {
      inputs: { rows: rendered.rendered, tokenizer: p.file(`${setup.dir}/tokenizer.json`) },
      config: setup.tokenizeConfig ?? {}
    })
  })
  const ran = (id: string) => result.stage(id).status === "ran"
  return {
    template: result.stage("template"),
    tokenize: result.stage("tokenize"),
    rendered: ran("template") ? result.table("template", "rendered") : undefined,
    tokens: ran("tokenize") ? result.table("tokenize", "tokens") : undefined
  }
}

describe("template → tokenize through the engine", () => {
  it("tokenizes the glaive tool-call dataset with Qwen3 (tools, tool turns), ids equal to the library's", async () => {
    const result = await run({ data: `${fixtures}/datasets/llama-factory/glaive_toolcall_en_demo.json`, dir: qwen3 })
    expect(result.template.status).toBe("ran")
    expect(result.template.metrics).toMatchObject({ conversations: 300 })
    expect(result.tokenize.status).toBe("ran")
    const rendered = result.rendered!
    const tokens = result.tokens!
    expect(tokens.numRows).toBe(300)
    expect(result.tokenize.metrics).toMatchObject({ examples: 300, skippedNoTrainedTokens: 0, droppedTooLong: 0 })
    const encoder = loadEncoder(`${qwen3}/tokenizer.json`)
    const imEnd = 151645
    const newline = 198
    let trainedTotal = 0
    for (let i = 0; i < tokens.numRows; i++) {
      const text = rendered.getChild("text")!.get(i) as string
      const ids = [...tokens.getChild("input_ids")!.get(i)!.toArray()]
      const labels = [...tokens.getChild("labels")!.get(i)!.toArray()]
      expect(ids).toEqual(encoder.tokenizer.encode(text, { add_special_tokens: false }).ids)
      // One trained run per span, each ending with <|im_end|> and the newline after it (as TRL trains).
      const runs: Array<Array<number>> = []
      labels.forEach((label, t) => {
        if (label === -100) return
        if (t === 0 || labels[t - 1] === -100) runs.push([])
        runs.at(-1)!.push(label)
      })
      expect(runs.length).toBe(rendered.getChild("spans")!.get(i)!.length)
      for (const r of runs) expect(r.slice(-2)).toEqual([imEnd, newline])
      trainedTotal += runs.flat().length
    }
    expect(result.tokenize.metrics?.trainedTokens).toBe(trainedTotal)
    expect(result.tokenize.metrics?.tokens).toBe(
      Array.from({ length: tokens.numRows }, (_, i) => tokens.getChild("input_ids")!.get(i)!.length).reduce((a, b) => a + b, 0)
    )

    const view = await Effect.runPromise(Effect.scoped(tokenize.inspect!({
      config: { mode: "assistant_only", truncation: "drop", onEmpty: "error", addSpecialTokens: true },
      inputs: { rows: (await tableReader(rendered)) as never, tokenizer: { path: `${qwen3}/tokenizer.json`, size: 0, digest: "", name: "tokenizer.json" } },
      outputs: { tokens: await tableReader(tokens) },
      rows: 2,
      color: false
    })))
    expect(view.match(/── row \d \(glaive_toolcall_en_demo\.json:\d+\)/g)?.length).toBe(2)
    expect(view).toContain("⟦⟪<|im_end|>⟫⟧")
  })

  it("drops over-long examples and counts them, with Phi-3 on identity.json", async () => {
    const result = await run({
      data: `${fixtures}/datasets/llama-factory/identity.json`,
      loadConfig: { replace: { "{{name}}": "Ada", "{{author}}": "Lab" } },
      dir: phi3,
      tokenizeConfig: { maxSeqLength: 48, truncation: "drop" }
    })
    expect(result.tokenize.status).toBe("ran")
    const metrics = result.tokenize.metrics as Record<string, number>
    expect(metrics.examples + metrics.droppedTooLong).toBe(91)
    expect(metrics.droppedTooLong).toBeGreaterThan(0)
    const lengths = Array.from({ length: result.tokens!.numRows }, (_, i) => result.tokens!.getChild("input_ids")!.get(i)!.length)
    expect(Math.max(...lengths)).toBeLessThanOrEqual(48)
  })

  it("fails naming the row when truncation leaves no trained token, or skips and counts it", async () => {
    const setup = { data: `${fixtures}/datasets/llama-factory/identity.json`, dir: qwen3 }
    const config = { maxSeqLength: 8, truncation: "right" }
    const failed = await run({ ...setup, tokenizeConfig: config })
    expect(failed.tokenize.status).toBe("failed")
    expect(failed.tokenize.error).toMatch(/identity\.json:2: no trained tokens after truncation \(mode assistant_only\)/)
    const skipped = await run({ ...setup, tokenizeConfig: { ...config, onEmpty: "skip" } })
    expect(skipped.tokenize.status).toBe("ran")
    expect(skipped.tokenize.metrics).toMatchObject({ skippedNoTrainedTokens: 91, examples: 0 })
  })
})
