/**
 * Tokenizer directories written by transformers' save_pretrained (the oracle's transformers 5 puts
 * the template in chat_template.jinja, named ones in additional_chat_templates/, and none in
 * tokenizer_config.json): the template stage renders every row exactly as apply_chat_template of the
 * reloaded tokenizer does, picking `tool_use` for rows with tools as transformers does.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, beforeAll, expect, it } from "vitest"
import { load } from "../../stages/load.ts"
import { template } from "../../stages/template.ts"
import { describeOracle, runOracle } from "../support/oracle.ts"
import { runStages } from "./runStages.ts"

const weather = {
  type: "function",
  function: {
    name: "get_weather",
    description: "Current weather",
    parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] }
  }
}

const conversations = [
  { messages: [{ role: "user", content: "Capital of France?" }, { role: "assistant", content: "Paris." }] },
  {
    messages: [
      { role: "system", content: "You are terse." },
      { role: "user", content: "2+2?" },
      { role: "assistant", content: "4." },
      { role: "user", content: "And 3+3?" },
      { role: "assistant", content: "6." }
    ]
  },
  {
    messages: [
      { role: "user", content: "Weather in Paris?" },
      { role: "assistant", content: "", tool_calls: [{ type: "function", function: { name: "get_weather", arguments: { city: "Paris" } } }] },
      { role: "tool", content: "{\"temperature\": 21}" },
      { role: "assistant", content: "It is 21 °C." }
    ],
    tools: [weather]
  }
]

describeOracle("templates where transformers' save_pretrained writes them", () => {
  const dir = mkdtempSync(join(tmpdir(), "saved-templates-"))
  const data = join(dir, "rows.jsonl")
  let reference: { single: Array<string>; named: Array<string>; files: Record<string, Array<string>> }
  beforeAll(() => {
    writeFileSync(data, conversations.map((c) => JSON.stringify(c)).join("\n") + "\n")
    reference = JSON.parse(runOracle(join(import.meta.dirname, "oracle", "saved_templates.py"), [join(dir, "saved")], JSON.stringify(conversations)))
  })
  afterAll(() => rmSync(dir, { recursive: true, force: true }))

  const render = (saved: string) =>
    runStages({ name: "saved-template", file: join(import.meta.dirname, "template_files.test.ts") }, (p) => {
      const rows = p.add(load, { inputs: { train: p.file(data) }, config: { format: "messages" } })
      p.add(template, { inputs: { conversations: rows.train, tokenizer: p.dir(join(dir, "saved", saved)) } })
    })

  it("chat_template.jinja alone: the stage renders what apply_chat_template renders", async () => {
    expect(reference.files.single).toContain("chat_template.jinja")
    const run = await render("single")
    expect(run.stage("template").error).toBeUndefined()
    expect(run.log("template")[0]).toMatch(/^chat template: .*\/chat_template\.jinja$/)
    expect([...run.table("template", "rendered").getChild("text")!]).toEqual(reference.single)
  })

  it("a default and additional_chat_templates/tool_use.jinja: rows with tools take tool_use", async () => {
    expect(reference.files.named).toEqual(expect.arrayContaining(["chat_template.jinja", "additional_chat_templates/tool_use.jinja"]))
    const run = await render("named")
    expect(run.stage("template").error).toBeUndefined()
    expect([...run.table("template", "rendered").getChild("text")!]).toEqual(reference.named)
    expect(reference.named[2]).not.toEqual(reference.single[2])
  })
})
