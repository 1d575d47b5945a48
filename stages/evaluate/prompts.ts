/**
 * Held-out prompts for generation: each conversation up to its last assistant turn, rendered with
 * the chat template's generation prompt and tokenized as training tokenizes (the post-processor's
 * BOS unless the template wrote it), with that turn as the reference answer. Generation stops at
 * the template's end-of-turn token or the tokenizer's EOS.
 */
import type * as arrow from "apache-arrow"
import { join } from "node:path"
import { specialTokenAdditions } from "../chat/specialTokens.ts"
import { deriveEndOfTurn } from "../chat/spans.ts"
import type { TemplateChoice } from "../chat/TemplateSource.ts"
import { resolveTemplateSource } from "../chat/TemplateSource.ts"
import type { TokenEncoder } from "../chat/TokenEncoder.ts"
import type { ConversationColumns } from "../schemas/conversation.ts"
import { readConversation } from "../template.ts"
import { loadEncoder } from "../tokenize.ts"

/** One prompt to answer. */
export interface Prompt {
  /** The rendered prompt, ending with the generation prompt. */
  readonly text: string
  readonly ids: Int32Array
  /** The held-out assistant reply. */
  readonly reference: string
  readonly source: string
}

/** The prompts of a conversation table, how to stop, and how to turn ids back into text. */
export interface Prompts {
  readonly prompts: ReadonlyArray<Prompt>
  /** Conversations with nothing to answer: their last turn is not the assistant's. */
  readonly skipped: ReadonlyArray<string>
  readonly stopTokens: ReadonlyArray<number>
  /** The end-of-turn text, cut from an answer when it is more than one token. */
  readonly endOfTurn: string | undefined
  readonly encoder: TokenEncoder
}

const startsWith = (ids: ReadonlyArray<number>, prefix: ReadonlyArray<number>) => prefix.every((id, i) => ids[i] === id)

/** Builds the prompts of `table` with the tokenizer directory's tokenizer.json and template. */
export const readPrompts = (
  table: arrow.Table<ConversationColumns>,
  tokenizerDir: string,
  choice: TemplateChoice & { readonly endOfTurn?: string | undefined },
  limit: number | undefined
): Prompts => {
  const source = resolveTemplateSource(choice, tokenizerDir)
  const encoder = loadEncoder(join(tokenizerDir, "tokenizer.json"))
  const { prefix } = specialTokenAdditions(encoder.tokenizer)
  const prompts: Array<Prompt> = []
  const skipped: Array<string> = []
  const endsOfTurn = new Set<string>()
  for (let i = 0; i < table.numRows && (limit === undefined || prompts.length < limit); i++) {
    const conversation = readConversation(table, i)
    const last = conversation.messages.at(-1)
    if (last?.role !== "assistant") {
      skipped.push(conversation.source)
      continue
    }
    const chat = source.templateFor(conversation.tools !== null)
    endsOfTurn.add(choice.endOfTurn ?? deriveEndOfTurn(chat, source.variables, source.specialTokens))
    const text = chat.render(conversation.messages.slice(0, -1), { addGenerationPrompt: true, tools: conversation.tools, variables: source.variables }).text
    const body = encoder.encode(text)
    const ids = Int32Array.from(startsWith(body, prefix) ? body : [...prefix, ...body])
    prompts.push({ text, ids, reference: last.content, source: conversation.source })
  }
  const stopTokens = stopTokensOf(encoder, [...endsOfTurn, source.variables.eos_token])
  return { prompts, skipped, stopTokens, endOfTurn: endsOfTurn.size === 1 ? [...endsOfTurn][0] : undefined, encoder }
}

/**
 * The ids generation stops at: each end-of-turn marker or EOS text that is a single token (a
 * longer marker is cut from the decoded text instead). Non-strings (an absent eos_token) are skipped.
 */
export const stopTokensOf = (encoder: TokenEncoder, texts: ReadonlyArray<unknown>): Array<number> => {
  const ids = texts.flatMap((text) => {
    if (typeof text !== "string") return []
    const encoded = encoder.encode(text)
    return encoded.length === 1 ? encoded : []
  })
  return [...new Set(ids)]
}

/** The answer as text: special tokens dropped, cut at the end-of-turn marker when it was spelled out. */
export const answerText = (prompts: Prompts, ids: Int32Array): string => {
  const text = prompts.encoder.tokenizer.decode(Array.from(ids), { skip_special_tokens: true, clean_up_tokenization_spaces: false })
  const cut = prompts.endOfTurn === undefined ? -1 : text.indexOf(prompts.endOfTurn)
  return (cut >= 0 ? text.slice(0, cut) : text).trim()
}
