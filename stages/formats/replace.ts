/**
 * Placeholder substitution, e.g. LLaMA-Factory's identity.json `{{name}}` / `{{author}}`.
 */
import type { Conversation } from "./conversation.ts"

/** Literal replacements applied to the content of every message; longer keys go first so "{{name}}" beats "name". */
export interface Replacer {
  readonly apply: (conversation: Conversation) => { readonly conversation: Conversation; readonly count: number }
}

const occurrences = (text: string, key: string): number => text.split(key).length - 1

/** A replacer for `table` (placeholder → text). Order of application does not depend on key order. */
export const makeReplacer = (table: Readonly<Record<string, string>>): Replacer => {
  const pairs = Object.entries(table)
    .filter(([key]) => key !== "")
    .sort(([a], [b]) => b.length - a.length || (a < b ? -1 : a > b ? 1 : 0))
  return {
    apply: (conversation) => {
      if (pairs.length === 0) return { conversation, count: 0 }
      let count = 0
      const messages = conversation.messages.map((m) => {
        let content = m.content
        for (const [key, value] of pairs) {
          const found = occurrences(content, key)
          if (found > 0) {
            count += found
            content = content.replaceAll(key, value)
          }
        }
        return content === m.content ? m : { ...m, content }
      })
      return { conversation: { ...conversation, messages }, count }
    }
  }
}
