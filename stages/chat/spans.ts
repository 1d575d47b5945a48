/**
 * Renders a conversation and finds the UTF-16 spans of what the model is trained to generate: each
 * assistant turn's content and its end-of-turn marker.
 *
 * Templates with `{% generation %}` markers say so themselves. Stock templates do not, so spans are
 * derived the way transformers/TRL reason about assistant turns: the text the model generates for
 * turn i starts where the generation prompt for `messages[:i]` ends, and ends after the first
 * end-of-turn marker that follows. The rendered prefix must be stable (the full conversation must
 * start with the prompt rendered for `messages[:i]`); a template that rewrites earlier turns is
 * reported, naming the row, instead of being masked wrongly. One rewrite is common and harmless:
 * Qwen3 renders the empty `<think>` block of the generation prompt (enable_thinking=false) only for
 * the last turn; then the start is the end of the shared part of the prompt, cut back to a line or
 * special-token boundary so no content is lost.
 *
 * By default a span then runs on past the marker over what separates the turn from the next (the
 * `\n` of `<|im_end|>\n`), and for the conversation's last message to the end of the text (Phi-3's
 * `<|end|>\n<|endoftext|>`): what TRL trains, both with its prompt-completion masks (everything after
 * the prompt) and with the `{% generation %}` blocks of its training templates (qwen3_training.jinja
 * closes the block after `'<|im_end|>\n'`, phi3_training.jinja wraps the final EOS).
 */
import type { ChatTemplate, RenderOptions, TemplateMessage } from "./ChatTemplate.ts"
import { containsSentinel } from "./ChatTemplate.ts"
import { ChatTemplateError } from "./ChatTemplateError.ts"

/** A trained range of the rendered text: `[start, end)` in UTF-16 units; `turn` is the message index. */
export interface Span {
  readonly start: number
  readonly end: number
  readonly turn: number
}

/** One conversation as the template stage reads it. */
export interface Conversation {
  readonly messages: ReadonlyArray<TemplateMessage>
  readonly tools: ReadonlyArray<unknown> | null
  /** `file:line` of the row, for error messages. */
  readonly source: string
}

/** How to render: template variables (special tokens, kwargs) and the end-of-turn marker. */
export interface SpanOptions {
  readonly variables: Readonly<Record<string, unknown>>
  /** Text that ends an assistant turn (`<|im_end|>`); unused for templates with generation markers. */
  readonly endOfTurn: string
  /** Special-token texts, for cutting the prompt back to a token boundary. */
  readonly specialTokens: ReadonlyArray<string>
  /** Train past the marker up to the next turn (to the end of the text after the last message), as TRL does. */
  readonly trainAfterEndOfTurn: boolean
}

/** The rendered conversation and its trained spans, in order. */
export interface RenderedConversation {
  readonly text: string
  readonly spans: ReadonlyArray<Span>
}

const commonPrefixLength = (a: string, b: string): number => {
  const n = Math.min(a.length, b.length)
  let i = 0
  while (i < n && a.charCodeAt(i) === b.charCodeAt(i)) i++
  return i
}

const snippet = (text: string, at: number): string => JSON.stringify(text.slice(Math.max(0, at - 20), at + 20))

const render = (
  template: ChatTemplate,
  conversation: Conversation,
  messages: ReadonlyArray<TemplateMessage>,
  addGenerationPrompt: boolean,
  options: SpanOptions
) => {
  const renderOptions: RenderOptions = { addGenerationPrompt, tools: conversation.tools, variables: options.variables }
  try {
    return template.render(messages, renderOptions)
  } catch (error) {
    const what = messages.length === conversation.messages.length ? "" : ` (messages[0..${messages.length}))`
    throw new ChatTemplateError({
      source: conversation.source,
      message: `chat template failed${what}: ${error instanceof Error ? error.message : String(error)}`
    })
  }
}

/**
 * Where an assistant turn's span ends, given the end of its end-of-turn marker: there, or with
 * `trainAfterEndOfTurn` past the whitespace up to the next turn, or to the end of the text when
 * the turn is the conversation's last message.
 */
export const spanEnd = (text: string, markerEnd: number, lastMessage: boolean, trainAfterEndOfTurn: boolean): number => {
  if (!trainAfterEndOfTurn) return markerEnd
  if (lastMessage) return text.length
  let end = markerEnd
  while (end < text.length && /\s/.test(text[end]!)) end++
  return end
}

/** The last line or special-token boundary in `prompt[from, to)`, or -1. */
const lastBoundary = (prompt: string, from: number, to: number, specialTokens: ReadonlyArray<string>): number => {
  let best = -1
  const newline = prompt.lastIndexOf("\n", to - 1)
  if (newline >= from) best = newline + 1
  for (const token of specialTokens) {
    const at = prompt.lastIndexOf(token, to - token.length)
    if (at >= from && at + token.length > best) best = at + token.length
  }
  return best
}

const assistantTurns = (messages: ReadonlyArray<TemplateMessage>): Array<number> =>
  messages.flatMap((m, i) => (m.role === "assistant" ? [i] : []))

const fromMarkers = (conversation: Conversation, text: string, marked: ReadonlyArray<{ start: number; end: number }>) => {
  const turns = assistantTurns(conversation.messages)
  if (marked.length !== turns.length) {
    throw new ChatTemplateError({
      source: conversation.source,
      message: `the template marked ${marked.length} {% generation %} blocks for ${turns.length} assistant turns`
    })
  }
  return { text, spans: marked.map((m, k) => ({ start: m.start, end: m.end, turn: turns[k]! })) }
}

/**
 * Rejects contents that would make the spans wrong: template sentinels anywhere, and the
 * end-of-turn marker inside an assistant turn (its span would end there). `endOfTurn` is undefined
 * for templates with generation markers, which mark the ends themselves.
 */
export const checkContents = (conversation: Conversation, endOfTurn: string | undefined): void => {
  for (const [index, m] of conversation.messages.entries()) {
    if (containsSentinel(m.content)) {
      throw new ChatTemplateError({
        source: conversation.source,
        message: `messages[${index}].content: contains U+E000–U+E003, reserved for template sentinels`
      })
    }
    if (endOfTurn !== undefined && m.role === "assistant" && m.content.includes(endOfTurn)) {
      throw new ChatTemplateError({
        source: conversation.source,
        message: `messages[${index}].content: contains the end-of-turn marker ${JSON.stringify(endOfTurn)}`
      })
    }
  }
}

/** Renders one conversation (without generation prompt) and finds its trained spans. */
export const renderWithSpans = (
  template: ChatTemplate,
  conversation: Conversation,
  options: SpanOptions
): RenderedConversation => {
  checkContents(conversation, template.hasGenerationMarkers ? undefined : options.endOfTurn)
  return renderByPrefixes(template, conversation, options)
}

/** {@link renderWithSpans} without {@link checkContents}, for SpanFinder's sentinel conversations. */
export const renderByPrefixes = (
  template: ChatTemplate,
  conversation: Conversation,
  options: SpanOptions
): RenderedConversation => {
  const { messages, source } = conversation
  const full = render(template, conversation, messages, false, options)
  if (template.hasGenerationMarkers) return fromMarkers(conversation, full.text, full.generation)

  const text = full.text
  const eot = options.endOfTurn
  const spans: Array<Span> = []
  let previousEnd = 0
  for (const turn of assistantTurns(messages)) {
    const prompt = render(template, conversation, messages.slice(0, turn), true, options).text
    let start = prompt.length
    if (!text.startsWith(prompt)) {
      const closed = render(template, conversation, messages.slice(0, turn), false, options).text
      const promptBegins = commonPrefixLength(closed, prompt)
      const shared = commonPrefixLength(text, prompt)
      const boundary = shared > promptBegins ? lastBoundary(prompt, promptBegins, shared, options.specialTokens) : -1
      if (boundary <= promptBegins) {
        throw new ChatTemplateError({
          source,
          message: `chat template is not prefix-stable at messages[${turn}]: the conversation rendered up to that ` +
            `turn with add_generation_prompt differs from the full rendering at char ${shared} ` +
            `(${snippet(prompt, shared)} vs ${snippet(text, shared)}); add {% generation %} markers to the template`
        })
      }
      start = boundary
    }
    if (start < previousEnd) {
      throw new ChatTemplateError({ source, message: `messages[${turn}]: assistant turn starts inside the previous one` })
    }
    const at = text.indexOf(eot, start)
    if (at < 0) {
      throw new ChatTemplateError({
        source,
        message: `messages[${turn}]: no end-of-turn marker ${JSON.stringify(eot)} after the assistant turn`
      })
    }
    previousEnd = spanEnd(text, at + eot.length, turn === messages.length - 1, options.trainAfterEndOfTurn)
    spans.push({ start, end: previousEnd, turn })
  }
  return { text, spans }
}

/**
 * The end-of-turn marker of a template: render a probe exchange and take what follows the
 * assistant's content up to and including the first special token (Phi-3 ends the last turn with
 * `<|end|>\n<|endoftext|>`: the marker is `<|end|>`).
 */
export const deriveEndOfTurn = (
  template: ChatTemplate,
  variables: Readonly<Record<string, unknown>>,
  specialTokens: ReadonlyArray<string>
): string => {
  const answer = "Probe answer."
  const probe: Array<TemplateMessage> = [{ role: "user", content: "Probe question." }, { role: "assistant", content: answer }]
  const options = { tools: null, variables }
  const prompt = template.render(probe.slice(0, 1), { ...options, addGenerationPrompt: true }).text
  const full = template.render(probe, { ...options, addGenerationPrompt: false }).text
  const at = full.indexOf(answer, prompt.length)
  const fail = (why: string) => new Error(`cannot find the template's end-of-turn marker (${why}); set \`endOfTurn\``)
  if (!full.startsWith(prompt) || at < 0) throw fail("the probe conversation does not render as a prefix")
  const suffix = full.slice(at + answer.length)
  let first = -1
  let marker = ""
  for (const token of specialTokens) {
    const i = suffix.indexOf(token)
    if (i >= 0 && (first < 0 || i < first || (i === first && token.length > marker.length))) {
      first = i
      marker = token
    }
  }
  if (first >= 0) return suffix.slice(0, first + marker.length)
  const trimmed = suffix.trimEnd()
  if (trimmed === "") throw fail("nothing follows the assistant's content")
  return trimmed
}
