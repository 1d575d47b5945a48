/**
 * Masking options on one Llama 3.1 conversation: no double BOS (the template writes
 * <|begin_of_text|>, and the tokenizer's post-processor, per HF tokenizers, would add it), BOS added
 * once with label -100 when the template does not write it, `all` mode, and left/right truncation
 * and dropping. The ids are checked against the tokenizer library's `encode` with special tokens.
 */
import { describe, expect, it } from "vitest"
import { ignoreIndex, tokenizeAndMask } from "../../stages/chat/mask.ts"
import { specialTokenAdditions } from "../../stages/chat/specialTokens.ts"
import { SpanFinder } from "../../stages/chat/SpanFinder.ts"
import { deriveEndOfTurn } from "../../stages/chat/spans.ts"
import { resolveTemplateSource } from "../../stages/chat/TemplateSource.ts"
import { TokenEncoder } from "../../stages/chat/TokenEncoder.ts"
import { llamaDir, readJson } from "../support/fixtures.ts"

const encoder = new TokenEncoder(readJson(`${llamaDir}/tokenizer.json`), {})
const additions = specialTokenAdditions(encoder.tokenizer)
const bos = 128000

const render = (template: string | undefined) => {
  const source = resolveTemplateSource({ template, kwargs: {} }, llamaDir)
  const chat = source.templateFor(false)
  const finder = new SpanFinder(chat, {
    variables: source.variables,
    endOfTurn: deriveEndOfTurn(chat, source.variables, source.specialTokens),
    specialTokens: source.specialTokens,
    trainAfterEndOfTurn: true
  })
  return finder.find({
    messages: [
      { role: "user", content: "Say hi." },
      { role: "assistant", content: "Hi." },
      { role: "user", content: "Again." },
      { role: "assistant", content: "Hi again." }
    ],
    tools: null,
    source: "t.jsonl:1"
  })
}

const options = { mode: "assistant_only", truncation: "drop", addSpecialTokens: true } as const

describe("masking options", () => {
  it("the post-processor of Llama 3 adds <|begin_of_text|>", () => expect(additions).toEqual({ prefix: [bos], suffix: [] }))

  it("does not add a second BOS when the template wrote one", () => {
    const { text, spans } = render(undefined)
    const masked = tokenizeAndMask(encoder, additions, text, spans, options)
    if (masked.kind !== "example") throw new Error(masked.kind)
    expect([...masked.inputIds]).toEqual(encoder.tokenizer.encode(text, { add_special_tokens: false }).ids)
    expect(masked.inputIds.filter((id) => id === bos).length).toBe(1)
  })

  it("adds the BOS once, untrained, when the template did not write it", () => {
    const { text, spans } = render("chatml")
    const masked = tokenizeAndMask(encoder, additions, text, spans, options)
    if (masked.kind !== "example") throw new Error(masked.kind)
    expect([...masked.inputIds]).toEqual(encoder.tokenizer.encode(text, { add_special_tokens: true }).ids)
    expect(masked.labels[0]).toBe(ignoreIndex)
    const none = tokenizeAndMask(encoder, additions, text, spans, { ...options, addSpecialTokens: false })
    if (none.kind !== "example") throw new Error(none.kind)
    expect([...none.inputIds]).toEqual(encoder.tokenizer.encode(text, { add_special_tokens: false }).ids)
  })

  it("trains every token in mode all", () => {
    const { text, spans } = render(undefined)
    const masked = tokenizeAndMask(encoder, additions, text, spans, { ...options, mode: "all" })
    if (masked.kind !== "example") throw new Error(masked.kind)
    expect([...masked.labels]).toEqual([...masked.inputIds])
    expect(masked.trained).toBe(masked.inputIds.length)
  })

  it("truncates left or right, or drops, at maxSeqLength", () => {
    const { text, spans } = render(undefined)
    const full = tokenizeAndMask(encoder, additions, text, spans, options)
    if (full.kind !== "example") throw new Error(full.kind)
    const max = full.inputIds.length - 5
    const right = tokenizeAndMask(encoder, additions, text, spans, { ...options, maxSeqLength: max, truncation: "right" })
    const left = tokenizeAndMask(encoder, additions, text, spans, { ...options, maxSeqLength: max, truncation: "left" })
    if (right.kind !== "example" || left.kind !== "example") throw new Error("expected examples")
    expect([...right.inputIds]).toEqual([...full.inputIds.slice(0, max)])
    expect([...right.labels]).toEqual([...full.labels.slice(0, max)])
    expect([...left.inputIds]).toEqual([...full.inputIds.slice(5)])
    expect([...left.labels]).toEqual([...full.labels.slice(5)])
    expect(right.truncated && left.truncated).toBe(true)
    expect(tokenizeAndMask(encoder, additions, text, spans, { ...options, maxSeqLength: max })).toEqual({ kind: "too_long", length: full.inputIds.length })
  })
})
