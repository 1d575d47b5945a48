/**
 * Token ids equal HF `tokenizers` (Rust) on the shared goldens: 49 strings (llama.cpp's edge cases
 * plus special-token strings) for Qwen3, Phi-3-mini and GPT-2, without and with special tokens.
 * Both the library (`@huggingface/tokenizers`) and our positioned encoder are checked.
 */
import { describe, expect, it } from "vitest"
import { specialTokenAdditions } from "../../stages/chat/specialTokens.ts"
import { TokenEncoder } from "../../stages/chat/TokenEncoder.ts"
import { fixtures as fixturesRoot, readJson } from "../support/fixtures.ts"

const goldens = readJson(`${fixturesRoot}/goldens/tokenizer_goldens.json`) as {
  inputs: ReadonlyArray<string>
  outputs: Record<string, { ids: Array<Array<number>>; ids_with_special: Array<Array<number>> }>
}

const configFor = (name: string): object => {
  try {
    return readJson(`${fixturesRoot}/tokenizers/${name}/tokenizer_config.json`)
  } catch {
    return {}
  }
}

describe.each(["qwen3", "phi-3-mini", "gpt2"])("%s ids equal HF tokenizers", (name) => {
  const encoder = new TokenEncoder(readJson(`${fixturesRoot}/tokenizers/${name}/tokenizer.json`), configFor(name))
  const additions = specialTokenAdditions(encoder.tokenizer)
  const expected = goldens.outputs[name]!
  it("covers all 49 inputs", () => expect(expected.ids.length).toBe(goldens.inputs.length))
  goldens.inputs.forEach((input, i) => {
    it(`input ${i}: ${JSON.stringify(input).slice(0, 40)}`, () => {
      expect(encoder.tokenizer.encode(input, { add_special_tokens: false }).ids).toEqual(expected.ids[i])
      expect(encoder.encode(input)).toEqual(expected.ids[i])
      expect(encoder.tokenizer.encode(input, { add_special_tokens: true }).ids).toEqual(expected.ids_with_special[i])
      expect([...additions.prefix, ...encoder.encode(input), ...additions.suffix]).toEqual(expected.ids_with_special[i])
    })
  })
})
