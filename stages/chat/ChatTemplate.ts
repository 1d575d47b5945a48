/**
 * A Hugging Face chat template compiled with `@huggingface/jinja`, rendered the way transformers'
 * `apply_chat_template` renders it: `messages`, `tools`, `add_generation_prompt`, the tokenizer's
 * special tokens (`bos_token`, `eos_token`, …) and extra keyword arguments (`enable_thinking`).
 * The library itself provides `raise_exception`, `strftime_now` and the `tojson` filter; strip and
 * trim are Python's (chat/pythonStrip.ts).
 *
 * `{% generation %}…{% endgeneration %}` blocks (transformers' assistant-mask markers) are kept:
 * the library drops them, so before compiling each tag is replaced by a private-use sentinel
 * character with the whitespace handling jinja2 gives a block tag (lstrip_blocks, trim_blocks and
 * `-` modifiers); the sentinels are removed from the output and their positions reported.
 */
import { Template } from "@huggingface/jinja"
import { rewriteStripCalls, stripFunctions } from "./pythonStrip.ts"

const generationStart = "\uE000"
const generationEnd = "\uE001"
const generationTag = /(\s*){%(-?)\s*(end)?generation\s*(-?)%}(\s*)/g

/** A message as templates see it: only the keys a row actually has (templates test `is defined`). */
export interface TemplateMessage {
  readonly role: string
  readonly content: string
  readonly tool_calls?: ReadonlyArray<unknown>
  readonly name?: string
}

/** Variables besides `messages`: special tokens by name (`bos_token`), extra kwargs, `tools`. */
export interface RenderOptions {
  readonly addGenerationPrompt: boolean
  readonly tools: ReadonlyArray<unknown> | null
  readonly variables: Readonly<Record<string, unknown>>
}

/** The rendered text and, for templates with generation markers, the marked ranges (UTF-16). */
export interface Rendered {
  readonly text: string
  readonly generation: ReadonlyArray<{ readonly start: number; readonly end: number }>
}

// jinja2 treats `{% generation %}` as a block tag: lstrip_blocks drops spaces and tabs before it
// when it starts its line (done for every tag up front, as the library's own preprocessing does,
// so tags after a generation tag keep their line starts), `{%-`/`-%}` strip all whitespace on
// that side, and trim_blocks drops the first newline after it.
const replaceTags = (source: string): string =>
  source.replace(/^[ \t]*({[#%-])/gm, "$1").replace(
    generationTag,
    (_match: string, before: string, lstrip: string, end: string | undefined, rstrip: string, after: string) => {
      const rest = rstrip === "-" ? "" : after.startsWith("\n") ? after.slice(1) : after
      return (lstrip === "-" ? "" : before) + (end === undefined ? generationStart : generationEnd) + rest
    }
  )

/** A compiled chat template. Throws the library's syntax error for a template it cannot parse. */
export class ChatTemplate {
  readonly hasGenerationMarkers: boolean
  private readonly template: Template

  constructor(readonly source: string) {
    this.hasGenerationMarkers = /{%-?\s*generation\s*-?%}/.test(source)
    this.template = new Template(this.hasGenerationMarkers ? replaceTags(source) : source)
    rewriteStripCalls(this.template.parsed)
  }

  /** Renders `messages`; throws when the template raises (`raise_exception`) or fails. */
  render(messages: ReadonlyArray<TemplateMessage>, options: RenderOptions): Rendered {
    const raw = this.template.render({
      ...options.variables,
      messages,
      tools: options.tools,
      add_generation_prompt: options.addGenerationPrompt,
      ...stripFunctions
    })
    if (!this.hasGenerationMarkers) return { text: raw, generation: [] }
    return stripSentinels(raw)
  }
}

const stripSentinels = (raw: string): Rendered => {
  const generation: Array<{ start: number; end: number }> = []
  let text = ""
  let open = -1
  let from = 0
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i]
    if (c !== generationStart && c !== generationEnd) continue
    text += raw.slice(from, i)
    from = i + 1
    if (c === generationStart) {
      if (open >= 0) throw new Error("nested {% generation %} blocks")
      open = text.length
    } else {
      if (open < 0) throw new Error("{% endgeneration %} without {% generation %}")
      generation.push({ start: open, end: text.length })
      open = -1
    }
  }
  if (open >= 0) throw new Error("{% generation %} without {% endgeneration %}")
  text += raw.slice(from)
  return { text, generation }
}

/** Whether `text` contains a private-use character U+E000–U+E003 (generation and content sentinels). */
export const containsSentinel = (text: string): boolean => /[\uE000-\uE003]/.test(text)
