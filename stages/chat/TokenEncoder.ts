/**
 * Token ids of a text plus, for given cut positions (span boundaries), which tokens lie before,
 * after or across each cut. `@huggingface/tokenizers` returns no offsets, so this mirrors its
 * `encode_text` (split on added tokens with their lstrip/rstrip rules → normalizer → split on
 * normalized added tokens → pre-tokenizer → model) over the library's own components, keeping
 * each section's place in the original text. The ids are the library's (tests compare them with
 * HF `tokenizers` goldens and with the library's `encode` on whole datasets).
 *
 * Inside a section a cut is mapped by pre-processing the text before it: for the normalizers and
 * pre-tokenizers in use (NFC, Prepend, Replace, Split, ByteLevel, Metaspace) the processed prefix
 * is a prefix of the processed section, and that is checked, never assumed.
 *
 * Speed: BPE per word is cached by the library (LRU of 10k words), but its pre-tokenizer maps
 * every word to byte-level text and every token string to an id again. This module caches
 * word → ids (exact: a model encodes each pre-tokenized word on its own; unknown-token fusion,
 * the one cross-word rule, is re-applied after concatenation). When the pre-tokenizer is
 * `Sequence[..., ByteLevel(use_regex: false)]` the cache key is the word before the byte-level
 * mapping, which skips that mapping too (it maps each word on its own, so this is exact). For the
 * common `Sequence[Split(regex, Isolated), ByteLevel]` (Qwen, Llama 3) the split runs here in one
 * loop straight into the cache, as the library's regex_split does but without its intermediate
 * arrays (profiled on GSM8K: the library's pre_tokenize/regex_split/flat were ~30% of the time),
 * and words not cached yet are merged by ByteLevelBpe.ts instead of the library's BPE.
 */
import { Tokenizer } from "@huggingface/tokenizers"
import type { BpeModelLike } from "./ByteLevelBpe.ts"
import { ByteLevelBpe } from "./ByteLevelBpe.ts"
import { useHfByteFallback } from "./HfByteFallback.ts"

interface AddedTokenLike {
  readonly id: number
  readonly content: string
  readonly lstrip: boolean
  readonly rstrip: boolean
}

interface Splitter {
  split(text: string): Array<string>
  readonly trie: object
}

type PreTokenize = ((text: string | Array<string>, options?: { section_index?: number }) => Array<string>) & {
  readonly config?: Record<string, unknown>
  readonly pattern?: RegExp | null
}

// Fields the library keeps private in its typings but which its encode_text uses; reading them is
// the only way to reproduce its splitting with positions.
interface TokenizerInternals {
  readonly splitter_unnormalized: Splitter
  readonly splitter_normalized: Splitter
  readonly added_tokens_map: Map<string, AddedTokenLike>
  readonly remove_space?: boolean | null
  readonly do_lowercase_and_remove_accent?: boolean
  readonly normalizer: ((text: string) => string) | null
  readonly pre_tokenizer: (PreTokenize & { tokenizers?: Array<PreTokenize> }) | null
  readonly model: {
    encode(words: Array<string>): Array<string>
    readonly tokens_to_ids: Map<string, number>
    readonly vocab: ReadonlyArray<string | undefined>
    readonly unk_token_id?: number
    readonly fuse_unk: boolean
    readonly end_of_word_suffix?: string | null
    readonly continuing_subword_suffix?: string | null
    readonly byte_fallback?: boolean
  }
}

/** Ids of a text and, per token, a `[start, end)` range that is exact with respect to the cuts. */
export interface EncodedText {
  readonly ids: Array<number>
  /** Token ranges in UTF-16 units of the input; coarse (a whole section) except at the cuts. */
  readonly starts: Array<number>
  readonly ends: Array<number>
}

interface Piece {
  text: string
  start: number
  end: number
}

const byteToken = /^<0x([0-9A-F]{2})>$/

const utf8Length = (codePoint: number): number =>
  codePoint < 0x80 ? 1 : codePoint < 0x800 ? 2 : codePoint < 0x10000 ? 3 : 4

/** Splits `text` on added tokens, applying their lstrip/rstrip (the stripped space joins the token). */
const splitAdded = (splitter: Splitter, added: Map<string, AddedTokenLike>, text: string, base: number): Array<Piece> => {
  let position = base
  const pieces = splitter.split(text).map((part) => {
    const piece = { text: part, start: position, end: position + part.length }
    position += part.length
    return piece
  })
  pieces.forEach((piece, i) => {
    const token = added.get(piece.text)
    if (token === undefined) return
    const previous = pieces[i - 1]
    if (token.lstrip && previous !== undefined) {
      const kept = previous.text.trimEnd()
      const cut = previous.text.length - kept.length
      previous.text = kept
      previous.end -= cut
      piece.start -= cut
    }
    const next = pieces[i + 1]
    if (token.rstrip && next !== undefined) {
      const kept = next.text.trimStart()
      const cut = next.text.length - kept.length
      next.text = kept
      next.start += cut
      piece.end += cut
    }
  })
  return pieces
}

/** A pre-tokenized unit of a section: an added token found after normalization, or words. */
type Unit = { readonly added: AddedTokenLike } | { readonly words: Array<string> }

/** Words whose ids are cached: about 20 MiB of entries, whatever the dataset's vocabulary. */
const maxCachedWords = 100_000

/** Encodes with the library's components; see the module comment. */
export class TokenEncoder {
  readonly tokenizer: Tokenizer
  private readonly internals: TokenizerInternals
  private readonly wordIds = new Map<string, Array<number>>()
  /** Pre-tokenizers before a final ByteLevel(use_regex: false), when the cache key can skip it. */
  private readonly rawPreTokenizers: Array<PreTokenize> | undefined
  private readonly byteLevel: PreTokenize | undefined
  /** The regex of a `Split(Isolated)` that is the only step before the byte-level mapping. */
  private readonly isolatedSplit: RegExp | undefined
  private readonly hasNormalizedAddedTokens: boolean
  /** Our merge loop for byte-level BPE models (see ByteLevelBpe.ts), else the library's model. */
  private readonly bpe: ByteLevelBpe | undefined

  constructor(tokenizerJson: object, tokenizerConfig: object) {
    this.tokenizer = new Tokenizer(tokenizerJson, tokenizerConfig)
    useHfByteFallback(this.tokenizer)
    this.internals = this.tokenizer as unknown as TokenizerInternals
    const { model, remove_space, do_lowercase_and_remove_accent, pre_tokenizer } = this.internals
    if (remove_space === true || do_lowercase_and_remove_accent === true) {
      throw new Error("tokenizers with remove_space or do_lowercase_and_remove_accent are not supported")
    }
    if ((model.end_of_word_suffix ?? "") !== "" || (model.continuing_subword_suffix ?? "") !== "") {
      throw new Error("tokenizer models with subword suffixes are not supported")
    }
    const steps = pre_tokenizer?.tokenizers
    const last = steps?.at(-1)
    if (steps !== undefined && last?.config?.type === "ByteLevel" && last.config.use_regex === false && last.config.add_prefix_space !== true) {
      this.rawPreTokenizers = steps.slice(0, -1)
      this.byteLevel = last
      const split = this.rawPreTokenizers.length === 1 ? this.rawPreTokenizers[0] : undefined
      if (split?.config?.type === "Split" && split.config.invert === false && split.pattern instanceof RegExp &&
        String(split.config.behavior).toLowerCase() === "isolated") {
        this.isolatedSplit = split.pattern
      }
    }
    this.hasNormalizedAddedTokens = Object.keys(this.internals.splitter_normalized.trie).length > 0
    const bpeModel = model as unknown as Partial<BpeModelLike> & { readonly byte_fallback?: boolean }
    if (this.byteLevel !== undefined && Array.isArray(bpeModel.merges) && bpeModel.byte_fallback !== true) {
      this.bpe = new ByteLevelBpe(bpeModel as BpeModelLike, this.internals.added_tokens_map)
    }
  }

  /** Token ids exactly as `tokenizer.encode(text, { add_special_tokens: false })`. */
  encode(text: string): Array<number> {
    return this.encodeWithCuts(text, []).ids
  }

  /** Ids plus token ranges exact at every cut (positions in UTF-16 units of `text`). */
  encodeWithCuts(text: string, cuts: ReadonlyArray<number>): EncodedText {
    // A dataset's distinct words grow with its size: the word cache starts over when full, between
    // texts (a text's own words must stay cached until its ranges are placed).
    if (this.wordIds.size > maxCachedWords) this.wordIds.clear()
    const { splitter_unnormalized, added_tokens_map } = this.internals
    const ids: Array<number> = []
    const starts: Array<number> = []
    const ends: Array<number> = []
    splitAdded(splitter_unnormalized, added_tokens_map, text, 0).forEach((piece, sectionIndex) => {
      if (piece.text.length === 0) return
      const token = added_tokens_map.get(piece.text)
      if (token !== undefined) {
        ids.push(token.id)
        starts.push(piece.start)
        ends.push(piece.end)
        return
      }
      const first = ids.length
      const inside = cuts.filter((c) => c > piece.start && c < piece.end)
      if (inside.length === 0) {
        this.appendSection(piece.text, sectionIndex, ids)
        for (let i = first; i < ids.length; i++) {
          starts.push(piece.start)
          ends.push(piece.end)
        }
        return
      }
      const units = this.units(piece.text, sectionIndex)
      for (const unit of units) {
        if ("added" in unit) ids.push(unit.added.id)
        else this.encodeWords(unit.words, ids)
      }
      this.placeAtCuts(piece, sectionIndex, units, inside, ids.length - first, starts, ends)
    })
    return { ids, starts, ends }
  }

  /** Appends the ids of a section (text between added tokens); the fast path of {@link units}. */
  private appendSection(text: string, sectionIndex: number, ids: Array<number>): void {
    const split = this.isolatedSplit
    if (split === undefined || this.hasNormalizedAddedTokens) {
      for (const unit of this.units(text, sectionIndex)) {
        if ("added" in unit) ids.push(unit.added.id)
        else this.encodeWords(unit.words, ids)
      }
      return
    }
    const { normalizer, model } = this.internals
    const normalized = normalizer === null ? text : normalizer(text)
    const first = ids.length
    splitIsolated(split, normalized, (word) => this.appendWord(word, ids))
    if (model.fuse_unk && model.unk_token_id !== undefined) fuseUnknown(ids, first, model.unk_token_id)
  }

  /** Normalizes a section, splits it on normalized added tokens and pre-tokenizes the rest. */
  private units(text: string, sectionIndex: number): Array<Unit> {
    const { normalizer, splitter_normalized, added_tokens_map, pre_tokenizer } = this.internals
    const normalized = normalizer === null ? text : normalizer(text)
    if (normalized.length === 0) return []
    if (this.isolatedSplit !== undefined && !this.hasNormalizedAddedTokens) {
      const words: Array<string> = []
      splitIsolated(this.isolatedSplit, normalized, (word) => words.push(word))
      return [{ words }]
    }
    const units: Array<Unit> = []
    for (const sub of splitAdded(splitter_normalized, added_tokens_map, normalized, 0)) {
      if (sub.text.length === 0) continue
      const token = added_tokens_map.get(sub.text)
      if (token !== undefined) units.push({ added: token })
      else if (pre_tokenizer === null) units.push({ words: [sub.text] })
      else if (this.rawPreTokenizers !== undefined) {
        let words = [sub.text]
        for (const step of this.rawPreTokenizers) words = step(words, { section_index: sectionIndex })
        units.push({ words })
      } else units.push({ words: pre_tokenizer(sub.text, { section_index: sectionIndex }) })
    }
    return units
  }

  /** The text the model sees for a word (byte-level mapped when the cache key skipped that step). */
  private modelWord(word: string): string {
    return this.byteLevel === undefined ? word : this.byteLevel(word)[0] ?? ""
  }

  private encodeWords(words: Array<string>, ids: Array<number>): void {
    const { model } = this.internals
    const first = ids.length
    for (const word of words) this.appendWord(word, ids)
    if (model.fuse_unk && model.unk_token_id !== undefined) fuseUnknown(ids, first, model.unk_token_id)
  }

  private appendWord(word: string, ids: Array<number>): void {
    let wordIds = this.wordIds.get(word)
    if (wordIds === undefined) {
      const { model, added_tokens_map } = this.internals
      const modelWord = this.modelWord(word)
      wordIds = this.bpe?.encode(modelWord) ?? model.encode([modelWord]).map((t) => {
        const id = added_tokens_map.get(t)?.id ?? model.tokens_to_ids.get(t) ?? model.unk_token_id
        if (id === undefined) throw new Error(`token ${JSON.stringify(t)} has no id and the tokenizer has no unknown token`)
        return id
      })
      this.wordIds.set(word, wordIds)
    }
    for (let i = 0; i < wordIds.length; i++) ids.push(wordIds[i]!)
  }

  /** Positions of a section's tokens, exact at the cuts that fall inside it. */
  private placeAtCuts(
    piece: Piece,
    sectionIndex: number,
    units: Array<Unit>,
    inside: ReadonlyArray<number>,
    count: number,
    starts: Array<number>,
    ends: Array<number>
  ): void {
    const modelWords = (us: Array<Unit>) => us.map((u) => ("added" in u ? [u.added.content] : u.words.map((w) => this.modelWord(w))))
    const domain = (mapped: Array<Array<string>>) => mapped.map((words) => words.join("")).join("")
    // The byte-level mapping of the section's words is done once, for the check and the ranges.
    const mapped = modelWords(units)
    const full = domain(mapped)
    const cutsInDomain = inside.map((c) => {
      const prefix = domain(modelWords(this.units(piece.text.slice(0, c - piece.start), sectionIndex)))
      if (!full.startsWith(prefix)) {
        throw new Error(`cannot place char ${c} among tokens: the tokenizer rewrites text across it`)
      }
      return prefix.length
    })
    const ranges = this.domainRanges(units, mapped)
    if (ranges.length !== count) throw new Error("cannot place tokens: unknown tokens were fused")
    for (const [from, to] of ranges) {
      let start = piece.start
      let end = piece.end
      cutsInDomain.forEach((d, k) => {
        if (d <= from) start = Math.max(start, inside[k]!)
        if (d >= to) end = Math.min(end, inside[k]!)
      })
      starts.push(start)
      ends.push(end)
    }
  }

  /**
   * `[from, to)` of each token in the processed section text. The words were just encoded, so
   * their ids come from the word cache and their strings from the vocabulary (not a second BPE).
   */
  private domainRanges(units: Array<Unit>, mapped: Array<Array<string>>): Array<[number, number]> {
    const vocab = this.internals.model.vocab
    const ranges: Array<[number, number]> = []
    let offset = 0
    units.forEach((unit, u) => {
      if ("added" in unit) {
        ranges.push([offset, offset + unit.added.content.length])
        offset += unit.added.content.length
        return
      }
      unit.words.forEach((raw, w) => {
        const word = mapped[u]![w]!
        let at = 0
        let pendingBytes = 0
        for (const id of this.wordIds.get(raw)!) {
          const token = vocab[id] ?? ""
          if (pendingBytes === 0 && token !== "" && word.startsWith(token, at)) {
            ranges.push([offset + at, offset + at + token.length])
            at += token.length
            continue
          }
          if (!byteToken.test(token)) throw new Error(`cannot place token ${JSON.stringify(token)} in ${JSON.stringify(word)}`)
          const codePoint = word.codePointAt(at) ?? 0
          const width = codePoint > 0xffff ? 2 : 1
          if (pendingBytes === 0) pendingBytes = utf8Length(codePoint)
          ranges.push([offset + at, offset + at + width])
          pendingBytes--
          if (pendingBytes === 0) at += width
        }
        offset += word.length
      })
    })
    return ranges
  }
}

/** Visits the words of a `Split(regex, Isolated)`: the matches and the text between them, in order. */
const splitIsolated = (split: RegExp, text: string, visit: (word: string) => void): void => {
  split.lastIndex = 0
  let previous = 0
  for (let match = split.exec(text); match !== null; match = split.exec(text)) {
    const end = match.index + match[0].length
    if (match.index > previous) visit(text.slice(previous, match.index))
    if (end > match.index) visit(match[0])
    // An empty match must still move on, by a whole code point as matchAll does in `u` mode.
    else split.lastIndex = end + ((text.codePointAt(end) ?? 0) > 0xffff ? 2 : 1)
    previous = end
  }
  if (previous < text.length) visit(text.slice(previous))
}

/** Collapses runs of the unknown id from `from` on, as the library's `fuse_unk` does. */
const fuseUnknown = (ids: Array<number>, from: number, unk: number): void => {
  let write = from
  for (let read = from; read < ids.length; read++) {
    if (ids[read] === unk && write > from && ids[write - 1] === unk) continue
    ids[write++] = ids[read]!
  }
  ids.length = write
}
