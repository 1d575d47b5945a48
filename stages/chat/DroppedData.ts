/**
 * What of a conversation its chat template does not render. Stock templates ignore what they were
 * not written for: Phi-3-mini's renders neither `tools` nor tool calls nor `tool` messages, so a
 * function-call turn becomes an empty assistant turn that is still trained. The template stage
 * counts such data and warns instead of letting it vanish.
 *
 * A piece of data is dropped when the rendering does not change without it: the row rendered with
 * `tools` null, a message without its `tool_calls`, a message with empty content. A content found
 * verbatim in the rendering counts as rendered without that extra render (the common case).
 */
import type { ChatTemplate, TemplateMessage } from "./ChatTemplate.ts"
import type { Conversation } from "./spans.ts"

/** The dropped parts of one conversation: message indexes, and whether its tools are dropped. */
export interface Dropped {
  readonly tools: boolean
  readonly toolCalls: ReadonlyArray<number>
  readonly contents: ReadonlyArray<number>
}

/** Finds what the rendering `text` of `conversation` leaves out. */
export const findDropped = (
  template: ChatTemplate,
  conversation: Conversation,
  variables: Readonly<Record<string, unknown>>,
  text: string
): Dropped => {
  const { messages } = conversation
  // A variant that fails to render is one the template reacts to: not dropped.
  const rendersSame = (variant: ReadonlyArray<TemplateMessage>, tools: ReadonlyArray<unknown> | null): boolean => {
    try {
      return template.render(variant, { addGenerationPrompt: false, tools, variables }).text === text
    } catch {
      return false
    }
  }
  const replaced = (index: number, message: TemplateMessage) => messages.map((m, i) => (i === index ? message : m))
  const tools = conversation.tools !== null && conversation.tools.length > 0 && rendersSame(messages, null)
  const toolCalls = messages.flatMap((m, i) => {
    if (m.tool_calls === undefined || m.tool_calls.length === 0) return []
    const { tool_calls: _, ...without } = m
    return rendersSame(replaced(i, without), conversation.tools) ? [i] : []
  })
  const contents = messages.flatMap((m, i) =>
    m.content === "" || text.includes(m.content) || !rendersSame(replaced(i, { ...m, content: "" }), conversation.tools) ? [] : [i]
  )
  return { tools, toolCalls, contents }
}

/** Counts of dropped data over a table, for the stage's metrics and its warning. */
export class DroppedCounts {
  /** Rows whose `tools` are not rendered. */
  tools = 0
  /** Messages whose tool calls are not rendered; `emptyTurns` of them render no content either. */
  toolCalls = 0
  emptyTurns = 0
  /** Messages whose content is not rendered, by role. */
  readonly contents = new Map<string, number>()
  /** The first rows with something dropped, `file:line (what)`, for the log. */
  readonly examples: Array<string> = []

  add(conversation: Conversation, dropped: Dropped): void {
    const { messages } = conversation
    if (dropped.tools) this.tools++
    this.toolCalls += dropped.toolCalls.length
    this.emptyTurns += dropped.toolCalls.filter((i) => messages[i]!.content === "" || dropped.contents.includes(i)).length
    for (const i of dropped.contents) this.contents.set(messages[i]!.role, (this.contents.get(messages[i]!.role) ?? 0) + 1)
    const what = [
      ...(dropped.tools ? ["tools"] : []),
      ...dropped.toolCalls.map((i) => `messages[${i}].tool_calls`),
      ...dropped.contents.map((i) => `messages[${i}].content`)
    ]
    if (what.length > 0 && this.examples.length < 3) this.examples.push(`${conversation.source} (${what.join(", ")})`)
  }

  get any(): boolean {
    return this.tools + this.toolCalls + this.contents.size > 0
  }

  /** Stage metrics: every count, zero when nothing was dropped. */
  metrics(): Record<string, number> {
    return {
      droppedTools: this.tools,
      droppedToolCalls: this.toolCalls,
      emptyToolCallTurns: this.emptyTurns,
      droppedContents: [...this.contents.values()].reduce((a, b) => a + b, 0)
    }
  }

  /** The log line: what the template drops, how often, and where first. */
  warning(): string {
    const parts = [
      ...(this.toolCalls > 0
        ? [`the tool calls of ${this.toolCalls} assistant turns${this.emptyTurns > 0 ? ` (${this.emptyTurns} of them then train as empty turns)` : ""}`]
        : []),
      ...[...this.contents].map(([role, n]) => `the content of ${n} ${role} messages`),
      ...(this.tools > 0 ? [`the tools of ${this.tools} rows`] : [])
    ]
    return `warning: the chat template does not render ${parts.join(", ")}; first: ${this.examples.join("; ")}`
  }
}
