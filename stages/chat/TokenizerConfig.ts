/**
 * The parts of a Hugging Face `tokenizer_config.json` the template and tokenize stages use: the
 * chat template(s) and the special tokens transformers passes to templates (`bos_token`, …).
 */

/** A named template, as tokenizer_config.json lists several (`default`, `tool_use`). */
export interface NamedTemplate {
  readonly name: string
  readonly template: string
}

/** What a tokenizer_config.json says about chat templates. */
export interface TokenizerConfig {
  /** One template, several named ones, or none. */
  readonly chatTemplate: string | ReadonlyArray<NamedTemplate> | undefined
  /** `bos_token`, `eos_token`, … by name, as transformers' `special_tokens_map` passes them. */
  readonly specialTokens: Readonly<Record<string, string>>
}

const specialTokenKeys = ["bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token"]

// A token is written either as its text or as an AddedToken object `{ content, … }`.
const tokenText = (value: unknown): string | undefined => {
  if (typeof value === "string") return value
  if (typeof value === "object" && value !== null && typeof (value as { content?: unknown }).content === "string") {
    return (value as { content: string }).content
  }
  return undefined
}

/** Reads a parsed tokenizer_config.json; `file` names it in errors. Throws on a malformed chat_template. */
export const parseTokenizerConfig = (json: unknown, file: string): TokenizerConfig => {
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    throw new Error(`${file}: expected a JSON object`)
  }
  const record = json as Record<string, unknown>
  const specialTokens: Record<string, string> = {}
  for (const key of specialTokenKeys) {
    const text = tokenText(record[key])
    if (text !== undefined) specialTokens[key] = text
  }
  const raw = record.chat_template
  let chatTemplate: TokenizerConfig["chatTemplate"]
  if (raw === undefined || raw === null) chatTemplate = undefined
  else if (typeof raw === "string") chatTemplate = raw
  else if (Array.isArray(raw)) {
    chatTemplate = raw.map((entry, index) => {
      const named = entry as { name?: unknown; template?: unknown }
      if (typeof named?.name !== "string" || typeof named.template !== "string") {
        throw new Error(`${file}: chat_template[${index}]: expected { name: string, template: string }`)
      }
      return { name: named.name, template: named.template }
    })
  } else throw new Error(`${file}: chat_template: expected a string or a list of { name, template }`)
  return { chatTemplate, specialTokens }
}

/**
 * Picks a template the way transformers does: a single one as is; among named ones `name` when
 * given, else `tool_use` for rows with tools (when present), else `default`.
 */
export const selectTemplate = (
  config: TokenizerConfig,
  file: string,
  options: { readonly name?: string | undefined; readonly withTools: boolean }
): string => {
  const chat = config.chatTemplate
  if (chat === undefined) {
    throw new Error(`${file}: has no chat_template (nor chat_template.jinja beside it); set the template stage's \`template\` config`)
  }
  if (typeof chat === "string") {
    if (options.name !== undefined) throw new Error(`${file}: has a single chat_template; templateName "${options.name}" does not apply`)
    return chat
  }
  const wanted = options.name ?? (options.withTools && chat.some((t) => t.name === "tool_use") ? "tool_use" : "default")
  const found = chat.find((t) => t.name === wanted)
  if (found === undefined) {
    throw new Error(`${file}: chat_template has no template named "${wanted}" (has ${chat.map((t) => t.name).join(", ")})`)
  }
  return found.template
}
