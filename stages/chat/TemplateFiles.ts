/**
 * The chat templates transformers' `save_pretrained` writes as files since 4.43 (and only so in 5):
 * `chat_template.jinja` for the default and `additional_chat_templates/<name>.jinja` for named
 * ones. transformers reads these in preference to tokenizer_config.json's `chat_template`; so do we.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs"
import { join } from "node:path"
import type { TokenizerConfig } from "./TokenizerConfig.ts"

/** The templates of a directory's files, and the path naming them in logs and errors. */
export interface TemplateFiles {
  readonly chatTemplate: NonNullable<TokenizerConfig["chatTemplate"]>
  readonly origin: string
}

/**
 * The directory's template files, or undefined when it has none. As transformers: the default
 * alone is a single template; with named ones, all are named (the default as `default`).
 */
export const readTemplateFiles = (dir: string): TemplateFiles | undefined => {
  const defaultFile = join(dir, "chat_template.jinja")
  const namedDir = join(dir, "additional_chat_templates")
  const named = existsSync(namedDir)
    ? readdirSync(namedDir).filter((name) => name.endsWith(".jinja")).sort().map((name) => ({
      name: name.slice(0, -".jinja".length),
      template: readFileSync(join(namedDir, name), "utf8")
    }))
    : []
  const hasDefault = existsSync(defaultFile)
  if (!hasDefault && named.length === 0) return undefined
  const defaultTemplate = hasDefault ? readFileSync(defaultFile, "utf8") : undefined
  if (named.length === 0) return { chatTemplate: defaultTemplate!, origin: defaultFile }
  return {
    chatTemplate: [...(defaultTemplate === undefined ? [] : [{ name: "default", template: defaultTemplate }]), ...named],
    origin: hasDefault ? `${defaultFile} and ${namedDir}` : namedDir
  }
}
