/**
 * HF tokenizers' ByteFallback decoding for @huggingface/tokenizers. Both turn a run of `<0xHH>`
 * byte tokens back into text, but when the run is not valid UTF-8 (a model that stopped inside a
 * character) HF writes one U+FFFD per byte where the library writes one per invalid sequence:
 * `<0xE5><0x8A>` decodes to "��" in transformers and to "�" here, so a generated answer did not
 * read as transformers reads it. The library exports its decoder classes; this subclass replaces
 * its ByteFallback in a tokenizer's decoder chain.
 */
import type { Tokenizer } from "@huggingface/tokenizers"
import * as tokenizers from "@huggingface/tokenizers"

interface DecoderLike {
  readonly config: unknown
  added_tokens: unknown
  end_of_word_suffix: string | null
  decode_chain(tokens: Array<string>): Array<string>
}

// The package exports these classes, but its typings do not resolve under NodeNext (extensionless
// relative imports in an ESM package), so their shape is stated here.
const { ByteFallbackDecoder, SequenceDecoder } = tokenizers as unknown as {
  readonly ByteFallbackDecoder: new(config: unknown) => DecoderLike
  readonly SequenceDecoder: new(config: unknown) => DecoderLike & { decoders: Array<DecoderLike> }
}

// fatal: an invalid run is detected, not repaired; ignoreBOM: a decoded U+FEFF stays, as in Rust.
const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true })

class HfByteFallback extends ByteFallbackDecoder {
  override decode_chain(tokens: Array<string>): Array<string> {
    const out: Array<string> = []
    let bytes: Array<number> = []
    const flush = () => {
      if (bytes.length === 0) return
      try {
        out.push(utf8.decode(Uint8Array.from(bytes)))
      } catch {
        out.push("\uFFFD".repeat(bytes.length))
      }
      bytes = []
    }
    for (const token of tokens) {
      const byte = token.length === 6 && token.startsWith("<0x") && token.endsWith(">") ? Number.parseInt(token.slice(3, 5), 16) : Number.NaN
      if (Number.isNaN(byte)) {
        flush()
        out.push(token)
      } else bytes.push(byte)
    }
    flush()
    return out
  }
}

/** Gives `tokenizer` HF's ByteFallback decoding, whether its decoder is one or holds one in a Sequence. */
export const useHfByteFallback = (tokenizer: Tokenizer): void => {
  const holder = tokenizer as unknown as { decoder: DecoderLike | null }
  const decoder: object | null = holder.decoder
  if (decoder instanceof ByteFallbackDecoder) {
    // The tokenizer gave its top-level decoder these two fields after building it.
    const replaced = new HfByteFallback(decoder.config)
    replaced.added_tokens = decoder.added_tokens
    replaced.end_of_word_suffix = decoder.end_of_word_suffix
    holder.decoder = replaced
  } else if (decoder instanceof SequenceDecoder) {
    decoder.decoders = decoder.decoders.map((d) => (d instanceof ByteFallbackDecoder ? new HfByteFallback(d.config) : d))
  }
}
