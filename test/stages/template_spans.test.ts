/**
 * Span finding on its own: end-of-turn markers found from the templates, the failures users get
 * (not prefix-stable, end-of-turn text inside content, a template error) naming the row, and
 * {% generation %} tags keeping jinja2's whitespace rules. Masks themselves are checked against
 * transformers in mask_oracle.test.ts.
 */
import { readFileSync } from "node:fs"
import { describe, expect, it } from "vitest"
import { ChatTemplate } from "../../stages/chat/ChatTemplate.ts"
import { ChatTemplateError } from "../../stages/chat/ChatTemplateError.ts"
import { SpanFinder } from "../../stages/chat/SpanFinder.ts"
import { deriveEndOfTurn, renderWithSpans } from "../../stages/chat/spans.ts"
import { resolveTemplateSource } from "../../stages/chat/TemplateSource.ts"
import { fixtures as fixturesRoot, llamaDir } from "../support/fixtures.ts"

const fixtures = `${fixturesRoot}/tokenizers/`

const endOfTurn = (dir: string | undefined, template?: string) => {
  const source = resolveTemplateSource({ template, kwargs: {} }, dir)
  return deriveEndOfTurn(source.templateFor(false), source.variables, source.specialTokens)
}

const messages = [
  { role: "user", content: "Hi" },
  { role: "assistant", content: "Hello" },
  { role: "user", content: "Bye" },
  { role: "assistant", content: "See you" }
]

const caught = (f: () => unknown): ChatTemplateError => {
  try {
    f()
  } catch (error) {
    if (error instanceof ChatTemplateError) return error
    throw error
  }
  throw new Error("expected a ChatTemplateError")
}

describe("end-of-turn markers", () => {
  it("are found from each template and its special tokens", () => {
    expect(endOfTurn(`${fixtures}qwen3`)).toBe("<|im_end|>")
    expect(endOfTurn(`${fixtures}qwen2.5`)).toBe("<|im_end|>")
    // Phi-3 ends the last turn with <|end|>\n<|endoftext|>: the turn marker is <|end|>.
    expect(endOfTurn(`${fixtures}phi-3-mini`)).toBe("<|end|>")
    expect(endOfTurn(llamaDir)).toBe("<|eot_id|>")
    expect(endOfTurn(undefined, "chatml")).toBe("<|im_end|>")
    expect(endOfTurn(undefined, "llama3")).toBe("<|eot_id|>")
  })
})

describe("spans", () => {
  const chatml = resolveTemplateSource({ template: "chatml", kwargs: {} }, undefined)
  const options = { variables: chatml.variables, endOfTurn: "<|im_end|>", specialTokens: chatml.specialTokens, trainAfterEndOfTurn: true }

  it("cover each assistant content, its end-of-turn marker and what follows up to the next turn (as TRL)", () => {
    const rendered = renderWithSpans(chatml.templateFor(false), { messages, tools: null, source: "a.jsonl:1" }, options)
    expect(rendered.spans.map((s) => rendered.text.slice(s.start, s.end))).toEqual(["Hello<|im_end|>\n", "See you<|im_end|>\n"])
    expect(rendered.spans.map((s) => s.turn)).toEqual([1, 3])
  })

  it("end at the end-of-turn marker with trainAfterEndOfTurn false", () => {
    const rendered = renderWithSpans(chatml.templateFor(false), { messages, tools: null, source: "a.jsonl:1" }, { ...options, trainAfterEndOfTurn: false })
    expect(rendered.spans.map((s) => rendered.text.slice(s.start, s.end))).toEqual(["Hello<|im_end|>", "See you<|im_end|>"])
  })

  it("run to the end of the text after the last message (Phi-3's <|end|>\\n<|endoftext|>)", () => {
    const phi3 = resolveTemplateSource({ kwargs: {} }, `${fixtures}phi-3-mini`)
    const phiOptions = { variables: phi3.variables, endOfTurn: "<|end|>", specialTokens: phi3.specialTokens, trainAfterEndOfTurn: true }
    const rendered = new SpanFinder(phi3.templateFor(false), phiOptions).find({ messages, tools: null, source: "a.jsonl:1" })
    expect(rendered.spans.map((s) => rendered.text.slice(s.start, s.end))).toEqual(["Hello<|end|>\n", "See you<|end|>\n<|endoftext|>"])
  })

  it("reject a template that is not prefix-stable, naming the row", () => {
    const counting = new ChatTemplate("{{ messages | length }} turns\n{% for m in messages %}{{ m.role }}: {{ m.content }}<|im_end|>\n{% endfor %}")
    const error = caught(() => renderWithSpans(counting, { messages, tools: null, source: "train.jsonl:7" }, options))
    expect(error.detail).toMatch(/^train\.jsonl:7: chat template is not prefix-stable at messages\[1\]/)
  })

  it("reject content that contains the end-of-turn marker", () => {
    const bad = [{ role: "user", content: "Hi" }, { role: "assistant", content: "Hello<|im_end|> there" }]
    const error = caught(() => renderWithSpans(chatml.templateFor(false), { messages: bad, tools: null, source: "b.jsonl:3" }, options))
    expect(error.detail).toBe('b.jsonl:3: messages[1].content: contains the end-of-turn marker "<|im_end|>"')
  })

  it("report raise_exception from the template with the row", () => {
    const strict = new ChatTemplate("{% if messages[0].role != 'system' %}{{ raise_exception('need a system turn') }}{% endif %}")
    const error = caught(() => renderWithSpans(strict, { messages, tools: null, source: "c.jsonl:2" }, options))
    expect(error.detail).toBe("c.jsonl:2: chat template failed: need a system turn")
  })
})

describe("HF template helpers", () => {
  it("provide strftime_now, tojson, raise_exception and pass kwargs and special tokens", () => {
    const template = new ChatTemplate(
      "{{ bos_token }}{{ strftime_now('%Y') }}|{{ messages[0] | tojson }}|{{ enable_thinking }}" +
        "{% if messages | length > 1 %}{{ raise_exception('one message only') }}{% endif %}"
    )
    const options = { addGenerationPrompt: false, tools: null, variables: { bos_token: "<s>", enable_thinking: false } }
    const text = template.render([{ role: "user", content: "é \"q\"" }], options).text
    expect(text).toBe(`<s>${new Date().getFullYear()}|{"role": "user", "content": "é \\"q\\""}|false`)
    expect(() => template.render(messages, options)).toThrow("one message only")
  })
})

describe("{% generation %} tags", () => {
  it("render like the template without them (jinja2 block-tag whitespace) and mark the assistant text", () => {
    const body = (open: string, close: string) =>
      "{% for m in messages %}\n  {% if m.role == 'assistant' %}\n<A>\n  " + open + "\n{{ m.content }}.\n  " + close +
      "\n  {% else %}\n<U>{{ m.content }}\n  {% endif %}\n{% endfor %}"
    const marked = new ChatTemplate(body("{% generation %}", "{% endgeneration %}"))
    const plain = new ChatTemplate(body("{% if true %}", "{% endif %}"))
    const options = { addGenerationPrompt: false, tools: null, variables: {} }
    const withMarkers = marked.render(messages, options)
    expect(withMarkers.text).toBe(plain.render(messages, options).text)
    expect(withMarkers.generation.map((g) => withMarkers.text.slice(g.start, g.end))).toEqual(["Hello.\n", "See you.\n"])
  })
})

describe("SpanFinder (one render per conversation)", () => {
  const gsm8k = readFileSync(`${fixturesRoot}/datasets/gsm8k/train.jsonl`, "utf8").split("\n").slice(0, 150).filter((l) => l !== "")
    .map((line, i) => {
      const row = JSON.parse(line) as { question: string; answer: string }
      return { messages: [{ role: "user", content: row.question }, { role: "assistant", content: row.answer }], tools: null, source: `train.jsonl:${i + 1}` }
    })
  const cases = [
    { name: "qwen3", dir: `${fixtures}qwen3`, kwargs: {} },
    { name: "qwen3 no thinking", dir: `${fixtures}qwen3`, kwargs: { enable_thinking: false } },
    { name: "phi-3", dir: `${fixtures}phi-3-mini`, kwargs: {} },
    { name: "llama 3.1", dir: llamaDir, kwargs: {} }
  ]
  for (const c of cases) {
    it(`${c.name}: equals the prefix method on GSM8K, mostly from the cached shape`, () => {
      const source = resolveTemplateSource({ kwargs: c.kwargs }, c.dir)
      const template = source.templateFor(false)
      const options = {
        variables: source.variables,
        endOfTurn: deriveEndOfTurn(template, source.variables, source.specialTokens),
        specialTokens: source.specialTokens,
        trainAfterEndOfTurn: true
      }
      const finder = new SpanFinder(template, options)
      for (const conversation of gsm8k) expect(finder.find(conversation)).toEqual(renderWithSpans(template, conversation, options))
      expect(finder.counts.shape).toBeGreaterThan(gsm8k.length / 2)
    })
  }

  it("falls back to the prefix method when the template rewrites a content", () => {
    const source = resolveTemplateSource({ kwargs: {} }, `${fixtures}qwen3`)
    const template = source.templateFor(false)
    const options = { variables: source.variables, endOfTurn: "<|im_end|>", specialTokens: source.specialTokens, trainAfterEndOfTurn: true }
    const finder = new SpanFinder(template, options)
    const plain = { messages: [{ role: "user", content: "Q" }, { role: "assistant", content: "A" }], tools: null, source: "a:1" }
    const reasoning = { messages: [{ role: "user", content: "Q" }, { role: "assistant", content: "<think>\nhm\n</think>\n\nA" }], tools: null, source: "a:2" }
    expect(finder.find(plain)).toEqual(renderWithSpans(template, plain, options))
    expect(finder.find(reasoning)).toEqual(renderWithSpans(template, reasoning, options))
    expect(finder.counts).toEqual({ shape: 1, prefix: 1 })
  })
})
