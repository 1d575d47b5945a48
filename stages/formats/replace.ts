/**
 * Placeholder substitution, e.g. LLaMA-Factory's identity.json `{{name}}` / `{{author}}`.
 */
import type { Conversation } from "./conversation.ts"

/**
 * Literal replacements applied to the content of every message in one pass, so text a replacement
 * inserts is never replaced again; where keys overlap the leftmost wins, then the longest, so
 * "{{name}}" beats "name".
 */
export interface Replacer {
  readonly apply: (conversation: Conversation) => { readonly conversation: Conversation; readonly count: number }
}

const escapeRegExp = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")

/** A replacer for `table` (placeholder → text). The result does not depend on key order. */
export const makeReplacer = (table: Readonly<Record<string, string>>): Replacer => {
  const values = new Map(Object.entries(table).filter(([key]) => key !== ""))
  if (values.size === 0) return { apply: (conversation) => ({ conversation, count: 0 }) }
  // An alternation tries its branches in order: longest first makes the longest key at a position win.
  const keys = [...values.keys()].sort((a, b) => b.length - a.length || (a < b ? -1 : a > b ? 1 : 0))
  const pattern = new RegExp(keys.map(escapeRegExp).join("|"), "g")
  return {
    apply: (conversation) => {
      let count = 0
      const messages = conversation.messages.map((m) => {
        const content = m.content.replace(pattern, (key) => {
          count++
          return values.get(key)!
        })
        return content === m.content ? m : { ...m, content }
      })
      return { conversation: { ...conversation, messages }, count }
    }
  }
}
