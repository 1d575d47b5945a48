/**
 * `pipeline inspect` for tokenize: decoded text with trained/masked/special tokens told apart, in
 * colour and with plain markers, checked on a Qwen3 rendering whose mask the oracle test covers.
 */
import { describe, expect, it } from "vitest"
import { inspectTokens, legend } from "../../stages/chat/inspectTokens.ts"
import { deriveEndOfTurn, renderWithSpans } from "../../stages/chat/spans.ts"
import { resolveTemplateSource } from "../../stages/chat/TemplateSource.ts"
import { loadEncoder, tokenizeRows } from "../../stages/tokenize.ts"
import { fixtures as fixturesRoot } from "../support/fixtures.ts"

const qwen3 = `${fixturesRoot}/tokenizers/qwen3`

const example = () => {
  const source = resolveTemplateSource({ kwargs: { enable_thinking: false } }, qwen3)
  const template = source.templateFor(false)
  const messages = [
    { role: "user", content: "What is 2+2?" },
    { role: "assistant", content: "It is 4 🙂" }
  ]
  const rendered = renderWithSpans(template, { messages, tools: null, source: "x.jsonl:1" }, {
    variables: source.variables,
    endOfTurn: deriveEndOfTurn(template, source.variables, source.specialTokens),
    specialTokens: source.specialTokens,
    trainAfterEndOfTurn: true
  })
  const encoder = loadEncoder(`${qwen3}/tokenizer.json`)
  const { examples } = tokenizeRows(encoder, [{ ...rendered, source: "x.jsonl:1" }], {
    mode: "assistant_only",
    truncation: "drop",
    onEmpty: "error",
    addSpecialTokens: true
  }, () => undefined)
  return { encoder, examples, text: rendered.text }
}

describe("tokenize inspect", () => {
  const { encoder, examples, text } = example()

  it("marks trained text, special tokens and newlines with plain markers", () => {
    const out = inspectTokens(encoder.tokenizer, examples, { rows: 5, color: false })
    expect(out.split("\n")[0]).toBe(legend(false))
    expect(out).toContain("── row 0 (x.jsonl:1): ")
    // <think> and </think> are added tokens of Qwen3, so they are marked like special tokens.
    expect(out).toContain("⟪<|im_start|>⟫user↵\nWhat is 2+2?⟪<|im_end|>⟫↵\n⟪<|im_start|>⟫assistant↵\n⟪<think>⟫↵\n↵\n⟪</think>⟫↵\n↵\n⟦It is 4 🙂⟧⟦⟪<|im_end|>⟫⟧⟦↵\n⟧")
    // Removing the markers gives back the rendered text.
    const body = out.split("\n").slice(3).join("\n")
    expect(body.replace(/[⟦⟧⟪⟫]/g, "").replaceAll("↵\n", "\n")).toBe(text)
  })

  it("uses ANSI styles when colour is on", () => {
    const out = inspectTokens(encoder.tokenizer, examples, { rows: 1, color: true })
    expect(out).toContain("\x1b[1;32mIt is 4 🙂\x1b[0m")
    expect(out).toContain("\x1b[1;4;32m<|im_end|>\x1b[0m")
    expect(out).toContain("\x1b[2muser\nWhat is 2+2?\x1b[0m")
    expect(out).not.toMatch(/[⟦⟧⟪⟫]/)
  })

  it("shows at most `rows` rows", () => {
    const out = inspectTokens(encoder.tokenizer, [...examples, ...examples], { rows: 1, color: false })
    expect(out.match(/── row/g)?.length).toBe(1)
  })
})
