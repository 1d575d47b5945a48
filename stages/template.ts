/**
 * template: conversations → rendered text plus the character spans the model is trained on.
 *
 * The chat template is the tokenizer directory's (chat_template.jinja and additional_chat_templates/
 * where transformers' save_pretrained writes them, else tokenizer_config.json's `chat_template`), a built-in
 * (`chatml`, `llama3`) or a Jinja string, rendered like transformers' apply_chat_template. Spans
 * are each assistant turn's generated text through its end-of-turn marker and, as TRL trains, what
 * follows it up to the next turn (`trainAfterEndOfTurn`), from `{% generation %}`
 * markers when the template has them, else derived by rendering prefixes (chat/spans.ts), once per
 * conversation shape with sentinel contents and checked against each conversation's own rendering
 * (chat/SpanFinder.ts). What the template does not render of a row (tools, tool calls, contents:
 * Phi-3's template has no place for them) is counted in the metrics and warned about in the log
 * (chat/DroppedData.ts).
 */
import type * as arrow from "apache-arrow"
import { Effect, Schema } from "effect"
import { defineStage, Files, Optional, StageFailure, StreamedTable, tableFrom, TableWriter, withDefault } from "../src/index.ts"
import type { ChatTemplate, TemplateMessage } from "./chat/ChatTemplate.ts"
import { ChatTemplateError } from "./chat/ChatTemplateError.ts"
import { DroppedCounts } from "./chat/DroppedData.ts"
import type { Conversation, RenderedConversation } from "./chat/spans.ts"
import { resolveTemplateSource } from "./chat/TemplateSource.ts"
import { conversationSchema } from "./schemas/conversation.ts"
import type { ConversationColumns } from "./schemas/conversation.ts"
import { renderedSchema } from "./schemas/rendered.ts"
import type { RenderedColumns } from "./schemas/rendered.ts"
import { forEachChunk } from "./workers/chunks.ts"
import * as templateTask from "./workers/templateTask.ts"
import { WorkerPool } from "./workers/WorkerPool.ts"

export { renderedSchema } from "./schemas/rendered.ts"
export type { RenderedColumns } from "./schemas/rendered.ts"


/** The template stage's config. */
export const TemplateConfig = Schema.Struct({
  /** "chatml", "llama3" or a Jinja template; absent: the tokenizer directory's chat_template. */
  template: Schema.optionalKey(Schema.String),
  /** Which named template (default: `tool_use` for rows with tools, else `default`). */
  templateName: Schema.optionalKey(Schema.String),
  /** Extra template variables, as apply_chat_template's kwargs: `{ enable_thinking: false }`. */
  chatTemplateKwargs: Schema.Record(Schema.String, Schema.Union([Schema.String, Schema.Finite, Schema.Boolean])).pipe(
    withDefault({})
  ),
  /** The text that ends an assistant turn; derived from the template when absent. */
  endOfTurn: Schema.optionalKey(Schema.String),
  /**
   * Also train what the template writes after the end-of-turn marker up to the next turn (ChatML's
   * and Phi-3's `\n`), and after the last message the rest of the text (Phi-3's EOS), as TRL does;
   * false ends each trained span at the marker. Templates with `{% generation %}` mark their own.
   */
  trainAfterEndOfTurn: Schema.Boolean.pipe(withDefault(true))
})

/** One row of a conversation table or batch as template input (tool calls and tools parsed from JSON). */
export const readConversation = (
  table: arrow.Table<ConversationColumns> | arrow.RecordBatch<ConversationColumns>,
  i: number
): Conversation => {
  const row = table.get(i)!
  const source = row.source
  const parse = (text: string, field: string): unknown => {
    try {
      return JSON.parse(text)
    } catch (error) {
      throw new ChatTemplateError({ source, message: `${field}: not valid JSON: ${(error as Error).message}` })
    }
  }
  const messages: Array<TemplateMessage> = [...row.messages].map((item, k) => {
    const m = item!
    return {
      role: m.role,
      content: m.content,
      ...(m.tool_calls === null ? {} : { tool_calls: parse(m.tool_calls, `messages[${k}].tool_calls`) as Array<unknown> }),
      ...(m.name === null ? {} : { name: m.name })
    }
  })
  const tools = row.tools === null ? null : parse(row.tools, "tools") as Array<unknown>
  return { messages, tools, source }
}

/** The conversations of a batch. */
function* conversationsOf(batch: arrow.RecordBatch<ConversationColumns>): Generator<Conversation> {
  for (let i = 0; i < batch.numRows; i++) yield readConversation(batch, i)
}

/** Builds a rendered table of at most one stored batch. */
const toRenderedTable = (
  rows: ReadonlyArray<RenderedConversation & { readonly source: string }>
): arrow.Table<RenderedColumns> =>
  tableFrom(renderedSchema, {
    text: rows.map((r) => r.text),
    spans: rows.map((r) => r.spans.map((s) => ({ start: s.start, end: s.end, turn: s.turn }))),
    source: rows.map((r) => r.source)
  })

const failure = (error: unknown) =>
  new StageFailure({
    stage: "template",
    message: error instanceof ChatTemplateError ? error.detail : error instanceof Error ? error.message : String(error),
    cause: error
  })

export const template = defineStage({
  name: "template",
  module: import.meta.url,
  reads: [],
  // The built-in templates are .jinja files read at run time, not imports.
  extraCode: ["./chat"],
  config: TemplateConfig,
  inputs: { conversations: StreamedTable(conversationSchema), tokenizer: Optional(Files()) },
  outputs: { rendered: StreamedTable(renderedSchema) },
  run: (ctx) =>
    Effect.gen(function*() {
      const init: templateTask.TemplateInit = {
        choice: { template: ctx.config.template, templateName: ctx.config.templateName, kwargs: ctx.config.chatTemplateKwargs },
        tokenizerDir: ctx.inputs.tokenizer?.dir,
        endOfTurn: ctx.config.endOfTurn,
        trainAfterEndOfTurn: ctx.config.trainAfterEndOfTurn
      }
      // Resolved here too, for the log: which template, and each end-of-turn marker as rows first use it.
      const source = yield* Effect.try({ try: () => resolveTemplateSource(init.choice, init.tokenizerDir), catch: failure })
      ctx.log(`chat template: ${source.origin}`)
      const logged = new Set<ChatTemplate>()
      const pool = yield* Effect.acquireRelease(
        Effect.tryPromise({ try: () => WorkerPool.start(new URL("./workers/templateTask.ts", import.meta.url).href, templateTask, init, ctx.workers), catch: failure }),
        (pool) => Effect.promise(() => pool.close())
      )
      const writer = new TableWriter(ctx.tmpDir, renderedSchema, toRenderedTable)
      const dropped = new DroppedCounts()
      const counts = { conversations: 0, spans: 0, shape: 0, prefix: 0 }
      yield* forEachChunk(
        ctx.inputs.conversations,
        ctx.batchSize,
        conversationsOf,
        (conversations) =>
          Effect.gen(function*() {
            for (const conversation of conversations) {
              const chat = source.templateFor(conversation.tools !== null)
              if (logged.has(chat) || chat.hasGenerationMarkers) continue
              logged.add(chat)
              const eot = yield* Effect.try({ try: () => templateTask.endOfTurnFor(chat, source, init.endOfTurn), catch: failure })
              ctx.log(`end-of-turn marker: ${JSON.stringify(eot)}`)
            }
            const rendered = yield* Effect.tryPromise({ try: () => pool.map(conversations), catch: failure })
            rendered.forEach((row, i) => {
              const conversation = conversations[i]!
              counts.conversations++
              counts.spans += row.spans.length
              if (row.byShape) counts.shape++
              else counts.prefix++
              dropped.add(conversation, row.dropped)
            })
            writer.append(rendered.map((row, i) => ({ text: row.text, spans: row.spans, source: conversations[i]!.source })))
          }),
        ctx.progress,
        failure
      )
      if (dropped.any) ctx.log(dropped.warning())
      return {
        outputs: { rendered: writer.finish() },
        metrics: {
          conversations: counts.conversations,
          trainedTurns: counts.spans,
          renderedByShape: counts.shape,
          renderedByPrefixes: counts.prefix,
          ...dropped.metrics()
        }
      }
    })
})
