/**
 * Token ids and labels of one rendered conversation: labels are -100 except on trained tokens,
 * where they equal the ids (unshifted, the HF convention). A token is trained when it overlaps a
 * trained span, so an end-of-turn token right after the content is trained with it.
 */
import { countTrained, ignoreIndex } from "../schemas/labels.ts"
import type { SpecialTokenAdditions } from "./specialTokens.ts"
import type { Span } from "./spans.ts"
import type { TokenEncoder } from "./TokenEncoder.ts"

/** Which tokens carry loss: every assistant turn, only the last one, or every token. */
export type MaskMode = "assistant_only" | "completion_only" | "all"

/** What to do with an example longer than `maxSeqLength`. */
export type Truncation = "drop" | "left" | "right"

/** How to tokenize and mask. */
export interface MaskOptions {
  readonly mode: MaskMode
  readonly maxSeqLength?: number | undefined
  readonly truncation: Truncation
  /** Add what the tokenizer's post-processor adds (a BOS), unless the text already has it. */
  readonly addSpecialTokens: boolean
}

/** One tokenized example, or why there is none. */
export type Masked =
  | { readonly kind: "example"; readonly inputIds: Int32Array; readonly labels: Int32Array; readonly trained: number; readonly truncated: boolean }
  | { readonly kind: "too_long"; readonly length: number }
  | { readonly kind: "no_trained_tokens"; readonly truncated: boolean }

/** The label of untrained tokens, beside the function that writes it. */
export { ignoreIndex } from "../schemas/labels.ts"

const startsWithRun = (ids: ReadonlyArray<number>, run: ReadonlyArray<number>): boolean =>
  run.length <= ids.length && run.every((id, k) => ids[k] === id)

const endsWithRun = (ids: ReadonlyArray<number>, run: ReadonlyArray<number>): boolean =>
  run.length <= ids.length && run.every((id, k) => ids[ids.length - run.length + k] === id)

/** The spans a mode trains: all of them, or those of the last assistant turn. */
const selectSpans = (spans: ReadonlyArray<Span>, mode: MaskMode): ReadonlyArray<Span> => {
  if (mode !== "completion_only" || spans.length === 0) return spans
  const last = Math.max(...spans.map((s) => s.turn))
  return spans.filter((s) => s.turn === last)
}

/** Tokenizes `text` and labels the tokens that overlap the selected spans. */
export const tokenizeAndMask = (
  encoder: TokenEncoder,
  additions: SpecialTokenAdditions,
  text: string,
  spans: ReadonlyArray<Span>,
  options: MaskOptions
): Masked => {
  const selected = selectSpans(spans, options.mode)
  // Cuts only make token ranges exact at span edges; mode "all" trains every token without them.
  const cuts = options.mode === "all" ? [] : selected.flatMap((s) => [s.start, s.end])
  const encoded = encoder.encodeWithCuts(text, cuts)
  const body = encoded.ids
  const prefix = options.addSpecialTokens && !startsWithRun(body, additions.prefix) ? additions.prefix : []
  const suffix = options.addSpecialTokens && !endsWithRun(body, additions.suffix) ? additions.suffix : []
  const length = prefix.length + body.length + suffix.length
  const inputIds = new Int32Array(length)
  const labels = new Int32Array(length).fill(ignoreIndex)
  inputIds.set(prefix, 0)
  inputIds.set(body, prefix.length)
  inputIds.set(suffix, prefix.length + body.length)
  if (options.mode === "all") labels.set(inputIds)
  else {
    for (let t = 0; t < body.length; t++) {
      const start = encoded.starts[t]!
      const end = encoded.ends[t]!
      if (selected.some((s) => start < s.end && end > s.start)) labels[prefix.length + t] = body[t]!
    }
  }
  const max = options.maxSeqLength
  let ids = inputIds
  let labelled = labels
  let truncated = false
  if (max !== undefined && length > max) {
    if (options.truncation === "drop") return { kind: "too_long", length }
    truncated = true
    const from = options.truncation === "left" ? length - max : 0
    ids = inputIds.slice(from, from + max)
    labelled = labels.slice(from, from + max)
  }
  const trained = countTrained(labelled)
  if (trained === 0) return { kind: "no_trained_tokens", truncated }
  return { kind: "example", inputIds: ids, labels: labelled, trained, truncated }
}
