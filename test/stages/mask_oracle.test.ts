/**
 * Masks against transformers: for every template (Qwen3 with thinking on and off, Qwen2.5 with
 * tools, Phi-3, Llama 3.1, the built-in ChatML and Llama 3), the trained tokens are exactly the
 * tokens transformers marks with `return_assistant_tokens_mask=True` on a copy of the template with
 * {% generation %} markers (oracle/mask_generation.py). Input ids must match too. The same marked
 * templates rendered by our {% generation %} support give the same masks. Twice: by default (as
 * TRL's training templates mark, through the `\n` after the end-of-turn token and, after the last
 * message, to the end of the text) and with `trainAfterEndOfTurn: false` (markers at the token).
 */
import { readFileSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { beforeAll, expect, it } from "vitest"
import type { TemplateMessage } from "../../stages/chat/ChatTemplate.ts"
import { ChatTemplate } from "../../stages/chat/ChatTemplate.ts"
import { ignoreIndex, tokenizeAndMask } from "../../stages/chat/mask.ts"
import { specialTokenAdditions } from "../../stages/chat/specialTokens.ts"
import { deriveEndOfTurn, renderWithSpans } from "../../stages/chat/spans.ts"
import { SpanFinder } from "../../stages/chat/SpanFinder.ts"
import { resolveTemplateSource } from "../../stages/chat/TemplateSource.ts"
import { TokenEncoder } from "../../stages/chat/TokenEncoder.ts"
import { describeOracle, runOracle } from "../support/oracle.ts"
import { fixtures as fixturesRoot, llamaDir, readJson } from "../support/fixtures.ts"
import { weatherTool } from "../support/syntheticChats.ts"

const fixtures = `${fixturesRoot}/`
const script = fileURLToPath(new URL("oracle/mask_generation.py", import.meta.url))

const gsm8k = readFileSync(`${fixtures}datasets/gsm8k/train.jsonl`, "utf8").split("\n").slice(0, 2).map((line) => {
  const row = JSON.parse(line) as { question: string; answer: string }
  return [{ role: "user", content: row.question }, { role: "assistant", content: row.answer }]
})

const conversations: Record<string, { messages: Array<TemplateMessage>; tools?: Array<unknown> }> = {
  multi_turn: {
    messages: [
      { role: "system", content: "You are a concise assistant." },
      { role: "user", content: "What is 2+2?" },
      { role: "assistant", content: "4." },
      { role: "user", content: "And times 3?" },
      { role: "assistant", content: "12, because 4 × 3 = 12 🙂" }
    ]
  },
  no_system: {
    messages: [
      { role: "user", content: "Hello!" },
      { role: "assistant", content: " Hi there. \n" },
      { role: "user", content: "Bye." },
      { role: "assistant", content: "Goodbye!\n\nSee you." }
    ]
  },
  // Qwen3 renders the last turn through content.lstrip('\n'): the spaces stay (jinja2's strip).
  leading_spaces: { messages: [{ role: "user", content: "2+2?" }, { role: "assistant", content: "   Four, since 2 + 2 = 4." }] },
  gsm8k_0: { messages: gsm8k[0]! },
  gsm8k_1: { messages: gsm8k[1]! }
}

const toolConversation = {
  messages: [
    { role: "user", content: "What is the weather in Paris?" },
    { role: "assistant", content: "", tool_calls: [{ type: "function", function: { name: "get_weather", arguments: { city: "Paris" } } }] },
    { role: "tool", content: "{\"temp_c\": 18}" },
    { role: "assistant", content: "It is 18 °C in Paris." }
  ],
  tools: [weatherTool]
}

const reasoningConversation = {
  messages: [
    { role: "user", content: "Is 7 prime?" },
    { role: "assistant", content: "<think>\nIt has no divisors but 1 and 7.\n</think>\n\nYes." },
    { role: "user", content: "Is 9?" },
    { role: "assistant", content: "<think>\n9 = 3 × 3.\n</think>\n\nNo." }
  ]
}

interface Setup {
  readonly name: string
  readonly template: string
  readonly choice: { template?: string }
  readonly templateDir: string
  readonly tokenizerDir: string
  readonly kwargs: Record<string, unknown>
  readonly conversations: Record<string, { messages: Array<TemplateMessage>; tools?: Array<unknown> }>
}

const setups: Array<Setup> = [
  { name: "qwen3 thinking", template: "qwen3", choice: {}, templateDir: `${fixtures}tokenizers/qwen3`, tokenizerDir: `${fixtures}tokenizers/qwen3`, kwargs: {}, conversations: { ...conversations, tools: toolConversation, reasoning: reasoningConversation } },
  { name: "qwen3 no thinking", template: "qwen3", choice: {}, templateDir: `${fixtures}tokenizers/qwen3`, tokenizerDir: `${fixtures}tokenizers/qwen3`, kwargs: { enable_thinking: false }, conversations: { ...conversations, tools: toolConversation } },
  { name: "qwen2.5", template: "qwen2.5", choice: {}, templateDir: `${fixtures}tokenizers/qwen2.5`, tokenizerDir: `${fixtures}tokenizers/qwen3`, kwargs: {}, conversations: { ...conversations, tools: toolConversation } },
  { name: "phi-3-mini", template: "phi-3-mini", choice: {}, templateDir: `${fixtures}tokenizers/phi-3-mini`, tokenizerDir: `${fixtures}tokenizers/phi-3-mini`, kwargs: {}, conversations },
  { name: "llama3.1", template: "llama3.1", choice: {}, templateDir: llamaDir, tokenizerDir: llamaDir, kwargs: {}, conversations },
  { name: "chatml", template: "chatml", choice: { template: "chatml" }, templateDir: `${fixtures}tokenizers/qwen3`, tokenizerDir: `${fixtures}tokenizers/qwen3`, kwargs: {}, conversations },
  { name: "llama3", template: "llama3", choice: { template: "llama3" }, templateDir: llamaDir, tokenizerDir: llamaDir, kwargs: {}, conversations }
]

/** The oracle's marked templates of each variant: `trl` for our default, `marker` for `trainAfterEndOfTurn: false`. */
const variants = [{ name: "trl", trainAfterEndOfTurn: true }, { name: "marker", trainAfterEndOfTurn: false }] as const

/** Our masks for every variant, setup and conversation, with `marked` (the oracle's templates with {% generation %} markers). */
const casesWith = (marked: Record<string, Record<string, string>>) =>
  variants.flatMap((variant) => setups.flatMap((setup) => {
    const source = resolveTemplateSource({ ...setup.choice, kwargs: setup.kwargs }, setup.templateDir)
    const encoder = new TokenEncoder(readJson(`${setup.tokenizerDir}/tokenizer.json`), {})
    const additions = specialTokenAdditions(encoder.tokenizer)
    return Object.entries(setup.conversations).map(([conversation, c]) => {
      const template = source.templateFor(c.tools !== undefined)
      const endOfTurn = deriveEndOfTurn(template, source.variables, source.specialTokens)
      const spanOptions = { variables: source.variables, endOfTurn, specialTokens: source.specialTokens, trainAfterEndOfTurn: variant.trainAfterEndOfTurn }
      const input = { messages: c.messages, tools: c.tools ?? null, source: conversation }
      const rendered = new SpanFinder(template, spanOptions).find(input)
      const withMarkers = renderWithSpans(new ChatTemplate(marked[variant.name]![setup.template]!), input, { ...spanOptions, endOfTurn: "" })
      const mask = (text: string, spans: typeof rendered.spans, mode: "assistant_only" | "completion_only") =>
        tokenizeAndMask(encoder, additions, text, spans, { mode, maxSeqLength: undefined, truncation: "right", addSpecialTokens: true })
      const ours = (mode: "assistant_only" | "completion_only") => mask(rendered.text, rendered.spans, mode)
      const specials = Object.fromEntries(Object.entries(source.variables).filter(([k]) => k.endsWith("_token")))
      return {
        label: `${setup.name} ${conversation} (${variant.name})`,
        rendered,
        prefixRendered: renderWithSpans(template, input, spanOptions),
        ours: ours("assistant_only"),
        last: ours("completion_only"),
        markers: mask(withMarkers.text, withMarkers.spans, "assistant_only"),
        oracle: {
          variant: variant.name,
          template: setup.template,
          tokenizer_file: `${setup.tokenizerDir}/tokenizer.json`,
          messages: c.messages,
          tools: c.tools ?? null,
          kwargs: { ...setup.kwargs, special_tokens: specials }
        }
      }
    })
  }))

describeOracle("assistant masks equal transformers' generation-marker masks", () => {
  const labels = variants.flatMap((variant) =>
    setups.flatMap((setup) => Object.keys(setup.conversations).map((conversation) => `${setup.name} ${conversation} (${variant.name})`))
  )
  let cases: ReturnType<typeof casesWith> = []
  let reference: Array<{ input_ids: Array<number>; assistant_masks: Array<number> }> = []
  beforeAll(() => {
    cases = casesWith(JSON.parse(runOracle(script, ["templates"])) as Record<string, Record<string, string>>)
    reference = JSON.parse(runOracle(script, [], JSON.stringify(cases.map((c) => c.oracle))))
  })

  labels.forEach((label, i) => {
    it(label, () => {
      const c = cases[i]!
      expect(c.label).toBe(label)
      // The one-render path (SpanFinder) must agree with the prefix method; both meet the oracle below.
      expect(c.rendered).toEqual(c.prefixRendered)
      const expected = reference[i]!
      if (c.ours.kind !== "example" || c.last.kind !== "example") throw new Error(`no example: ${c.ours.kind}`)
      expect([...c.ours.inputIds]).toEqual(expected.input_ids)
      const trained = [...c.ours.labels].map((label) => (label === ignoreIndex ? 0 : 1))
      expect(trained).toEqual(expected.assistant_masks)
      if (c.markers.kind !== "example") throw new Error(`no example with markers: ${c.markers.kind}`)
      expect([...c.markers.inputIds]).toEqual(expected.input_ids)
      expect([...c.markers.labels].map((label) => (label === ignoreIndex ? 0 : 1))).toEqual(expected.assistant_masks)
      // completion_only trains the last run of the oracle's mask (the last assistant turn).
      const lastRunStart = expected.assistant_masks.lastIndexOf(0, expected.assistant_masks.lastIndexOf(1)) + 1
      const lastOnly = expected.assistant_masks.map((m, t) => (t >= lastRunStart ? m : 0))
      expect([...c.last.labels].map((label) => (label === ignoreIndex ? 0 : 1))).toEqual(lastOnly)
      const ours = c.ours
      expect(ours.labels.every((label, t) => label === ignoreIndex || label === ours.inputIds[t])).toBe(true)
    })
  })
})
