/**
 * The template stage counts and warns about data a template does not render. On LLaMA-Factory's
 * 300-row glaive tool-call demo (211 function_call turns, each followed by an observation),
 * Phi-3-mini's template renders no tools, no tool calls and no tool messages: every function-call
 * turn becomes an empty, trained assistant turn. Qwen3's template renders all of it.
 */
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import { load } from "../../stages/load.ts"
import { template } from "../../stages/template.ts"
import { fixtures, readJson } from "../support/fixtures.ts"
import { runStages } from "./runStages.ts"

const glaive = `${fixtures}/datasets/llama-factory/glaive_toolcall_en_demo.json`

const renderGlaive = (tokenizer: string) =>
  runStages({ name: "dropped-test", file: join(import.meta.dirname, "template_dropped.test.ts") }, (p) => {
    const rows = p.add(load, { inputs: { train: p.file(glaive) } })
    p.add(template, { inputs: { conversations: rows.train, tokenizer: p.dir(`${fixtures}/tokenizers/${tokenizer}`) } })
  })

describe("data the chat template drops", () => {
  const raw: Array<{ conversations: Array<{ from: string }>; tools?: string }> = readJson(glaive)
  const count = (from: string) => raw.flatMap((row) => row.conversations).filter((turn) => turn.from === from).length
  const withTools = raw.filter((row) => row.tools !== undefined && JSON.parse(row.tools).length > 0).length

  it("Phi-3-mini on the glaive demo: 211 tool calls, 211 tool results and every row's tools, counted and warned", async () => {
    expect([count("function_call"), count("observation")]).toEqual([211, 211])
    const run = await renderGlaive("phi-3-mini")
    expect(run.stage("template").metrics).toMatchObject({
      conversations: 300,
      droppedToolCalls: 211,
      emptyToolCallTurns: 211,
      droppedContents: 211,
      droppedTools: withTools
    })
    const warning = run.log("template").find((line) => line.startsWith("warning:"))
    expect(warning).toContain(
      "warning: the chat template does not render the tool calls of 211 assistant turns (211 of them then train as empty turns), " +
        `the content of 211 tool messages, the tools of ${withTools} rows; ` +
        "first: glaive_toolcall_en_demo.json:2 (tools, messages[3].tool_calls, messages[4].content); "
    )
  })

  it("Qwen3 on the glaive demo renders every part: all counts 0, no warning", async () => {
    const run = await renderGlaive("qwen3")
    expect(run.stage("template").metrics).toMatchObject({ droppedToolCalls: 0, emptyToolCallTurns: 0, droppedContents: 0, droppedTools: 0 })
    expect(run.log("template").filter((line) => line.startsWith("warning:"))).toEqual([])
  })
})
