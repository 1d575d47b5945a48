/**
 * Span finding with one render per conversation for the common case. The prefix method
 * (spans.ts) renders every assistant turn's prompt again, which doubles the template cost of a
 * single-turn dataset. Here a conversation's *shape* (roles, which contents are empty, tool calls,
 * names, tools) is rendered once with sentinel contents (`U+E002 k U+E003` for message k) and its
 * spans found by the prefix method; each conversation of that shape is then rendered once and
 * checked to equal the shape's rendering with its contents put in place of the sentinels. When it
 * does, the template used the contents verbatim in this conversation, so a turn's start maps from
 * sentinel positions to real ones and the end follows the first end-of-turn marker after it, as in
 * the prefix method. When it does not (Qwen3 splitting `</think>` out of a content, Llama 3 trimming
 * one), that conversation takes the prefix method.
 */
import type { ChatTemplate, TemplateMessage } from "./ChatTemplate.ts"
import type { Conversation, RenderedConversation, Span, SpanOptions } from "./spans.ts"
import { checkContents, renderByPrefixes, renderWithSpans, spanEnd } from "./spans.ts"

const open = "\uE002"
const close = "\uE003"

/** A shape's rendering: literal text and message indexes whose content goes there. */
interface Shape {
  readonly pieces: ReadonlyArray<string | number>
  /** Per span, the piece whose start the span starts at and the offset into it (always a literal). */
  readonly starts: ReadonlyArray<{ readonly piece: number; readonly offset: number; readonly turn: number }>
}

const shapeKey = (conversation: Conversation): string =>
  JSON.stringify([
    conversation.messages.map((m) => [m.role, m.content === "", m.tool_calls ?? null, m.name ?? null]),
    conversation.tools
  ])

/** Shapes kept at once. */
const maxShapes = 10_000

const sentinel = (k: number): string => `${open}${k}${close}`

/** Splits a sentinel rendering into literals and content references (undefined if a sentinel was altered). */
const parsePieces = (text: string): Array<string | number> | undefined => {
  const pieces: Array<string | number> = []
  let from = 0
  for (let at = text.indexOf(open); at >= 0; at = text.indexOf(open, from)) {
    const end = text.indexOf(close, at)
    if (end < 0) break
    const index = Number(text.slice(at + 1, end))
    if (!Number.isInteger(index)) return undefined
    pieces.push(text.slice(from, at), index)
    from = end + 1
  }
  pieces.push(text.slice(from))
  return pieces
}

/** Finds the rendered text and spans of conversations with one template and one set of options. */
export class SpanFinder {
  private readonly shapes = new Map<string, Shape | undefined>()
  /** Conversations rendered from a cached shape, and those that needed the prefix method. */
  readonly counts = { shape: 0, prefix: 0 }

  constructor(
    private readonly template: ChatTemplate,
    private readonly options: SpanOptions
  ) {}

  find(conversation: Conversation): RenderedConversation {
    if (this.template.hasGenerationMarkers) return renderWithSpans(this.template, conversation, this.options)
    const key = shapeKey(conversation)
    // Tool calls are part of a shape, so a dataset can have as many shapes as rows: the cache starts
    // over when full (a shape is rebuilt the same), so memory does not grow with the dataset.
    if (this.shapes.size >= maxShapes && !this.shapes.has(key)) this.shapes.clear()
    if (!this.shapes.has(key)) this.shapes.set(key, this.buildShape(conversation))
    const shape = this.shapes.get(key)
    if (shape === undefined) return this.prefixMethod(conversation)
    const eot = this.options.endOfTurn
    checkContents(conversation, eot)
    const { messages } = conversation
    let text: string
    try {
      text = this.template.render(messages, { addGenerationPrompt: false, tools: conversation.tools, variables: this.options.variables }).text
    } catch {
      return this.prefixMethod(conversation)
    }
    const positions: Array<number> = []
    let expected = ""
    for (const piece of shape.pieces) {
      positions.push(expected.length)
      expected += typeof piece === "number" ? messages[piece]!.content : piece
    }
    if (text !== expected) return this.prefixMethod(conversation)
    const spans: Array<Span> = []
    for (const { piece, offset, turn } of shape.starts) {
      const start = positions[piece]! + offset
      const at = text.indexOf(eot, start)
      if (at < 0) return this.prefixMethod(conversation)
      spans.push({ start, end: spanEnd(text, at + eot.length, turn === messages.length - 1, this.options.trainAfterEndOfTurn), turn })
    }
    this.counts.shape++
    return { text, spans }
  }

  private prefixMethod(conversation: Conversation): RenderedConversation {
    this.counts.prefix++
    return renderByPrefixes(this.template, conversation, this.options)
  }

  /** The shape's pieces and span starts, or undefined when a start falls inside a content. */
  private buildShape(conversation: Conversation): Shape | undefined {
    const messages: Array<TemplateMessage> = conversation.messages.map((m, k) => ({ ...m, content: m.content === "" ? "" : sentinel(k) }))
    let rendered: RenderedConversation
    try {
      rendered = renderByPrefixes(this.template, { ...conversation, messages }, this.options)
    } catch {
      return undefined
    }
    const pieces = parsePieces(rendered.text)
    if (pieces === undefined) return undefined
    const starts: Array<{ piece: number; offset: number; turn: number }> = []
    let position = 0
    let next = 0
    for (const [index, piece] of pieces.entries()) {
      const length = typeof piece === "number" ? sentinel(piece).length : piece.length
      while (next < rendered.spans.length && rendered.spans[next]!.start < position + length) {
        const span = rendered.spans[next]!
        if (typeof piece === "number" && span.start > position) return undefined
        // A start at the beginning of a content is the end of the literal before it.
        starts.push(typeof piece === "number"
          ? { piece: index - 1, offset: (pieces[index - 1] as string).length, turn: span.turn }
          : { piece: index, offset: span.start - position, turn: span.turn })
        next++
      }
      position += length
    }
    if (next < rendered.spans.length) return undefined
    return { pieces, starts }
  }
}
