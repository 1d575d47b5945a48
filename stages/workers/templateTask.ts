/**
 * The template stage's worker task: conversations → rendered text, trained spans and what the
 * template leaves out of each, with one span finder per template (its shape cache) per thread.
 */
import type { ChatTemplate } from "../chat/ChatTemplate.ts"
import { ChatTemplateError } from "../chat/ChatTemplateError.ts"
import type { Dropped } from "../chat/DroppedData.ts"
import { findDropped } from "../chat/DroppedData.ts"
import { SpanFinder } from "../chat/SpanFinder.ts"
import type { Conversation, RenderedConversation } from "../chat/spans.ts"
import { deriveEndOfTurn } from "../chat/spans.ts"
import type { TemplateChoice, TemplateSource } from "../chat/TemplateSource.ts"
import { resolveTemplateSource } from "../chat/TemplateSource.ts"
import type { TaskHandler } from "./WorkerPool.ts"

/** What each worker is started with: the template stage's config and its tokenizer directory. */
export interface TemplateInit {
  readonly choice: TemplateChoice
  readonly tokenizerDir: string | undefined
  readonly endOfTurn: string | undefined
  readonly trainAfterEndOfTurn: boolean
}

/** One conversation rendered. `byShape`: its spans came from the cached shape, not by prefixes. */
export interface RenderedRow extends RenderedConversation {
  readonly dropped: Dropped
  readonly byShape: boolean
}

/** The end-of-turn marker spans end at: the configured one, else derived; none with generation markers. */
export const endOfTurnFor = (chat: ChatTemplate, source: TemplateSource, configured: string | undefined): string =>
  chat.hasGenerationMarkers ? "" : configured ?? deriveEndOfTurn(chat, source.variables, source.specialTokens)

export const start = (init: TemplateInit): TaskHandler<Conversation, RenderedRow> => {
  const source = resolveTemplateSource(init.choice, init.tokenizerDir)
  const finders = new Map<ChatTemplate, SpanFinder>()
  const finderFor = (chat: ChatTemplate): SpanFinder => {
    let finder = finders.get(chat)
    if (finder === undefined) {
      finder = new SpanFinder(chat, {
        variables: source.variables,
        endOfTurn: endOfTurnFor(chat, source, init.endOfTurn),
        specialTokens: source.specialTokens,
        trainAfterEndOfTurn: init.trainAfterEndOfTurn
      })
      finders.set(chat, finder)
    }
    return finder
  }
  const render = (conversation: Conversation): RenderedRow => {
    const chat = source.templateFor(conversation.tools !== null)
    const finder = finderFor(chat)
    const before = finder.counts.shape
    const rendered = finder.find(conversation)
    return {
      ...rendered,
      dropped: findDropped(chat, conversation, source.variables, rendered.text),
      byShape: finder.counts.shape > before
    }
  }
  return (rows) => {
    try {
      return { results: rows.map(render) }
    } catch (error) {
      // Only a message crosses threads: the one-line `file:line: why` is what the stage reports.
      throw error instanceof ChatTemplateError ? new Error(error.detail) : error
    }
  }
}
