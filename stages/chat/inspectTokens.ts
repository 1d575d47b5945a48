/**
 * A human view of tokenized rows for `pipeline inspect`: the decoded text with trained tokens
 * highlighted, masked tokens dimmed and special tokens marked, so a user can check the mask before
 * training. Without colour the same information is carried by plain markers.
 */
import type { Tokenizer } from "@huggingface/tokenizers"
import { countTrained, ignoreIndex } from "../schemas/tokenized.ts"
import type { TokenizedRow } from "../schemas/tokenized.ts"

const style = {
  trained: ["\x1b[1;32m", "\x1b[0m"],
  masked: ["\x1b[2m", "\x1b[0m"],
  special: ["\x1b[36m", "\x1b[0m"],
  trainedSpecial: ["\x1b[1;4;32m", "\x1b[0m"]
} as const

// Plain markers: ⟦trained⟧ around trained text; special tokens as ⟪<|im_end|>⟫ (inside ⟦ ⟧ when trained).
const plain = {
  trained: ["⟦", "⟧"],
  masked: ["", ""],
  special: ["⟪", "⟫"],
  trainedSpecial: ["⟦⟪", "⟫⟧"]
} as const

type Kind = keyof typeof style

/** The legend printed above the rows. */
export const legend = (color: boolean): string => {
  const marks = color ? style : plain
  const show = (kind: Kind, text: string) => `${marks[kind][0]}${text}${marks[kind][1]}`
  return `legend: ${show("trained", "trained")}  ${show("masked", "masked (label -100)")}  ${show("special", "<special>")}  ${show("trainedSpecial", "<trained special>")}` +
    (color ? "" : "  (↵ = newline)")
}

/** Renders rows; `rows` limits how many. */
export const inspectTokens = (
  tokenizer: Tokenizer,
  rows: Iterable<TokenizedRow>,
  options: { readonly rows: number; readonly color: boolean }
): string => {
  const special = new Set<number>(tokenizer.get_added_tokens_decoder().keys())
  const marks = options.color ? style : plain
  const decodePrefix = (ids: Int32Array, end: number): string =>
    end === 0 ? "" : tokenizer.decode(Array.from(ids.subarray(0, end)), { clean_up_tokenization_spaces: false })
  const out: Array<string> = [legend(options.color)]
  let index = 0
  for (const row of rows) {
    if (index >= options.rows) break
    const trained = countTrained(row.labels)
    out.push("", `── row ${index} (${row.source}): ${row.inputIds.length} tokens, ${trained} trained ──`)
    const kindOf = (t: number): Kind => {
      const isTrained = row.labels[t] !== ignoreIndex
      if (special.has(row.inputIds[t]!)) return isTrained ? "trainedSpecial" : "special"
      return isTrained ? "trained" : "masked"
    }
    // Decoding whole prefixes at run boundaries keeps multi-byte characters split across tokens intact.
    let text = ""
    let previous = ""
    let start = 0
    for (let t = 1; t <= row.inputIds.length; t++) {
      if (t < row.inputIds.length && kindOf(t) === kindOf(start) && !special.has(row.inputIds[t]!)) continue
      const decoded = decodePrefix(row.inputIds, t)
      let piece = decoded.slice(previous.length)
      previous = decoded
      if (!options.color) piece = piece.replaceAll("\n", "↵\n")
      const kind = kindOf(start)
      text += `${marks[kind][0]}${piece}${marks[kind][1]}`
      start = t
    }
    out.push(text)
    index++
  }
  return out.join("\n")
}
