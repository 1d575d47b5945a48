/**
 * Where a chat template comes from: the template stage's `template` config (a built-in name or a
 * Jinja string) or the tokenizer directory (chat_template.jinja and additional_chat_templates/ as
 * transformers saves them, else tokenizer_config.json's `chat_template`); plus the variables
 * transformers passes (special tokens, extra kwargs) and the special tokens used to find the
 * end-of-turn marker.
 */
import { existsSync, readFileSync } from "node:fs"
import { join } from "node:path"
import type { BuiltinTemplate } from "./builtins.ts"
import { builtinNames, builtinTemplate } from "./builtins.ts"
import { ChatTemplate } from "./ChatTemplate.ts"
import { readTemplateFiles } from "./TemplateFiles.ts"
import type { TokenizerConfig } from "./TokenizerConfig.ts"
import { parseTokenizerConfig, selectTemplate } from "./TokenizerConfig.ts"

/** The template stage's config fields that choose and parameterise the template. */
export interface TemplateChoice {
  /** "chatml", "llama3" or a Jinja string; absent: the tokenizer directory's chat_template. */
  readonly template?: string | undefined
  /** Which of several named templates in tokenizer_config.json. */
  readonly templateName?: string | undefined
  /** Extra template variables, e.g. `{ enable_thinking: false }`. */
  readonly kwargs: Readonly<Record<string, unknown>>
}

/** Everything needed to render rows. */
export interface TemplateSource {
  /** The template for a row (rows with tools may get a `tool_use` template). */
  readonly templateFor: (withTools: boolean) => ChatTemplate
  readonly variables: Readonly<Record<string, unknown>>
  readonly specialTokens: ReadonlyArray<string>
  /** A description for logs: `built-in chatml`, `…/chat_template.jinja`, `…/tokenizer_config.json`, `custom`. */
  readonly origin: string
}

const readJsonFile = (path: string): unknown => {
  try {
    return JSON.parse(readFileSync(path, "utf8"))
  } catch (error) {
    throw new Error(`${path}: ${error instanceof Error ? error.message : String(error)}`)
  }
}

/** Special tokens of a tokenizer.json (added tokens marked special). */
const tokenizerSpecials = (path: string): Array<string> => {
  const json = readJsonFile(path) as { added_tokens?: Array<{ content?: unknown; special?: unknown }> }
  return (json.added_tokens ?? []).flatMap((t) => (t.special === true && typeof t.content === "string" ? [t.content] : []))
}

const isBuiltin = (name: string): name is (typeof builtinNames)[number] => (builtinNames as ReadonlyArray<string>).includes(name)

/** Resolves the template from the config and an optional tokenizer directory. Throws a clear error. */
export const resolveTemplateSource = (choice: TemplateChoice, tokenizerDir: string | undefined): TemplateSource => {
  const configPath = tokenizerDir === undefined ? undefined : join(tokenizerDir, "tokenizer_config.json")
  const tokenizerPath = tokenizerDir === undefined ? undefined : join(tokenizerDir, "tokenizer.json")
  const config: TokenizerConfig | undefined = configPath !== undefined && existsSync(configPath)
    ? parseTokenizerConfig(readJsonFile(configPath), configPath)
    : undefined
  const specials = new Set<string>(tokenizerPath !== undefined && existsSync(tokenizerPath) ? tokenizerSpecials(tokenizerPath) : [])
  for (const token of Object.values(config?.specialTokens ?? {})) specials.add(token)

  const compiled = new Map<string, ChatTemplate>()
  const compile = (source: string): ChatTemplate => {
    let template = compiled.get(source)
    if (template === undefined) {
      template = new ChatTemplate(source)
      compiled.set(source, template)
    }
    return template
  }

  let builtin: BuiltinTemplate | undefined
  let templateFor: (withTools: boolean) => ChatTemplate
  let origin: string
  if (choice.template !== undefined) {
    if (isBuiltin(choice.template)) {
      builtin = builtinTemplate(choice.template)
      for (const token of builtin.specialTokens) specials.add(token)
      origin = `built-in ${choice.template}`
    } else if (choice.template.includes("{{") || choice.template.includes("{%")) {
      origin = "custom template"
    } else {
      throw new Error(`template: "${choice.template}" is neither a built-in (${builtinNames.join(", ")}) nor a Jinja template`)
    }
    const template = compile(builtin?.source ?? choice.template)
    templateFor = () => template
  } else {
    const files = tokenizerDir === undefined ? undefined : readTemplateFiles(tokenizerDir)
    if (files === undefined && (config === undefined || configPath === undefined)) {
      throw new Error(
        "no chat template: set `template` or wire a tokenizer directory with chat_template.jinja or tokenizer_config.json"
      )
    }
    const chosen = files === undefined
      ? { config: config!, file: configPath! }
      : { config: { chatTemplate: files.chatTemplate, specialTokens: config?.specialTokens ?? {} }, file: files.origin }
    selectTemplate(chosen.config, chosen.file, { name: choice.templateName, withTools: false })
    templateFor = (withTools) => compile(selectTemplate(chosen.config, chosen.file, { name: choice.templateName, withTools }))
    origin = chosen.file
  }
  const variables = { ...builtin?.variables, ...config?.specialTokens, ...choice.kwargs }
  return { templateFor, variables, specialTokens: [...specials], origin }
}
