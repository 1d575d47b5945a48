/**
 * Named built-in chat templates, for models whose tokenizer_config.json has none. The Jinja lives
 * next to this file (`chatml.jinja`, `llama3.jinja`); the template stage hashes this folder.
 */
import { readFileSync } from "node:fs"

/** A built-in template and the special tokens it writes (used to find its end-of-turn marker). */
export interface BuiltinTemplate {
  readonly source: string
  readonly specialTokens: ReadonlyArray<string>
  /** Variables the template needs when no tokenizer_config.json provides them. */
  readonly variables: Readonly<Record<string, string>>
}

const read = (file: string): string => readFileSync(new URL(file, import.meta.url), "utf8")

/** The names `template:` accepts besides a Jinja string. */
export const builtinNames = ["chatml", "llama3"] as const

/** Loads a built-in by name. */
export const builtinTemplate = (name: (typeof builtinNames)[number]): BuiltinTemplate => {
  switch (name) {
    case "chatml":
      return { source: read("./chatml.jinja"), specialTokens: ["<|im_start|>", "<|im_end|>"], variables: {} }
    case "llama3":
      return {
        source: read("./llama3.jinja"),
        specialTokens: ["<|begin_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"],
        variables: { bos_token: "<|begin_of_text|>", eos_token: "<|eot_id|>" }
      }
  }
}
