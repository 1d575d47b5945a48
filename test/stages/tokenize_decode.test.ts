/**
 * Decoding equals HF tokenizers' (the oracle) on every prefix of texts with characters that take
 * several bytes, so prefixes stop inside a character: Phi-3's byte-fallback tokens (`<0xE5><0x8A>`,
 * half of 助, is "��" there: one U+FFFD per byte, see chat/HfByteFallback.ts), Qwen3's and GPT-2's
 * byte-level tokens; with and without special tokens.
 */
import { join } from "node:path"
import { beforeAll, expect, it } from "vitest"
import { loadEncoder } from "../../stages/tokenize.ts"
import { fixtures } from "../support/fixtures.ts"
import { describeOracle, runOracle } from "../support/oracle.ts"

const texts = ["助手 🙂 Ünïcödé 𝔘𝔫𝔦 — ok", "<|user|>\n你好，世界 🇯🇵<|end|>\n", "\ufeffBOM then 中文\n"]

describeOracle("decode against HF tokenizers", () => {
  const cases = ["phi-3-mini", "qwen3", "gpt2"].flatMap((name) => {
    const file = `${fixtures}/tokenizers/${name}/tokenizer.json`
    const encoder = loadEncoder(file)
    return texts.flatMap((text) => {
      const ids: Array<number> = encoder.tokenizer.encode(text, { add_special_tokens: false }).ids
      return ids.flatMap((_, end) => [true, false].map((skip) => ({ name, encoder, file, ids: ids.slice(0, end + 1), skip })))
    })
  })
  let reference: Array<string> = []
  beforeAll(() => {
    reference = JSON.parse(runOracle(join(import.meta.dirname, "oracle", "decode.py"), [], JSON.stringify(
      cases.map((c) => ({ tokenizer_file: c.file, ids: c.ids, skip_special_tokens: c.skip }))
    )))
  })

  for (const name of ["phi-3-mini", "qwen3", "gpt2"]) {
    it(`${name}: every prefix of ${texts.length} texts decodes as HF's`, () => {
      const ours = cases.map((c, i) => ({ c, i })).filter(({ c }) => c.name === name)
      expect(ours.length).toBeGreaterThan(30)
      for (const { c, i } of ours) {
        const decoded = c.encoder.tokenizer.decode(c.ids, { skip_special_tokens: c.skip, clean_up_tokenization_spaces: false })
        expect(decoded, `${JSON.stringify(c.ids)} skip_special_tokens=${c.skip}`).toBe(reference[i])
      }
    })
  }
})
