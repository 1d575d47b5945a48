/**
 * What a tokenizer's post-processor adds around a single sequence (Llama 3 prepends
 * `<|begin_of_text|>`; Qwen and GPT-2 add nothing), found by encoding a probe with and without
 * special tokens, so every post-processor type the library supports is covered.
 */
import type { Tokenizer } from "@huggingface/tokenizers"

/** Ids the post-processor puts before and after a sequence. */
export interface SpecialTokenAdditions {
  readonly prefix: ReadonlyArray<number>
  readonly suffix: ReadonlyArray<number>
}

const indexOfRun = (haystack: ReadonlyArray<number>, needle: ReadonlyArray<number>): number => {
  for (let i = 0; i + needle.length <= haystack.length; i++) {
    if (needle.every((id, k) => haystack[i + k] === id)) return i
  }
  return -1
}

/** The post-processor's additions; throws when it does more than add tokens around the text. */
export const specialTokenAdditions = (tokenizer: Tokenizer): SpecialTokenAdditions => {
  const probe = "Hello world"
  const plain = tokenizer.encode(probe, { add_special_tokens: false }).ids
  const withSpecial = tokenizer.encode(probe, { add_special_tokens: true }).ids
  const at = indexOfRun(withSpecial, plain)
  if (at < 0) throw new Error("the tokenizer's post-processor changes the text's tokens; it is not supported")
  return { prefix: withSpecial.slice(0, at), suffix: withSpecial.slice(at + plain.length) }
}
