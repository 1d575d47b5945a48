/**
 * The positioned encoder (with its word cache, fused split and byte-level merge loop) gives the
 * library's ids on real data: GSM8K rendered with Qwen3 and Llama 3.1, glaive tool calls with
 * Qwen3, Phi-3 on GSM8K (byte fallback, no fast path). The library itself is checked against HF
 * tokenizers in tokenize_goldens.test.ts.
 */
import { readFileSync } from "node:fs"
import { describe, expect, it } from "vitest"
import { TokenEncoder } from "../../stages/chat/TokenEncoder.ts"
import { fixtures as fixturesRoot, llamaDir, readJson } from "../support/fixtures.ts"

const fixtures = `${fixturesRoot}/`

const gsm8k = readFileSync(`${fixtures}datasets/gsm8k/train.jsonl`, "utf8").split("\n").slice(0, 600).filter((l) => l !== "")
  .map((line) => JSON.parse(line) as { question: string; answer: string })
const glaive = (readJson(`${fixtures}datasets/llama-factory/glaive_toolcall_en_demo.json`) as Array<{ conversations: Array<{ value: string }>; tools: string }>)
  .slice(0, 150).map((row) => [row.tools, ...row.conversations.map((c) => c.value)].join("\n"))

const cases = [
  { name: "qwen3 on GSM8K", file: `${fixtures}tokenizers/qwen3/tokenizer.json`, texts: gsm8k.map((r) => `<|im_start|>user\n${r.question}<|im_end|>\n<|im_start|>assistant\n${r.answer}<|im_end|>\n`) },
  { name: "qwen3 on glaive", file: `${fixtures}tokenizers/qwen3/tokenizer.json`, texts: glaive },
  { name: "llama3.1 on GSM8K", file: `${llamaDir}/tokenizer.json`, texts: gsm8k.map((r) => `<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\n${r.question}<|eot_id|>${r.answer}`) },
  { name: "phi-3 on GSM8K", file: `${fixtures}tokenizers/phi-3-mini/tokenizer.json`, texts: gsm8k.map((r) => `<|user|>\n${r.question}<|end|>\n<|assistant|>\n${r.answer}<|end|>\n`) },
  { name: "gpt2 on glaive", file: `${fixtures}tokenizers/gpt2/tokenizer.json`, texts: glaive }
]

describe.each(cases)("$name", ({ file, texts }) => {
  it("gives the library's ids for every text, twice (cold and cached)", () => {
    const encoder = new TokenEncoder(readJson(file), {})
    for (let pass = 0; pass < 2; pass++) {
      texts.forEach((text, i) => {
        const expected = encoder.tokenizer.encode(text, { add_special_tokens: false }).ids
        const ours = encoder.encode(text)
        if (ours.length !== expected.length || ours.some((id, k) => id !== expected[k])) {
          expect({ pass, i, ours }).toEqual({ pass, i, ours: expected })
        }
      })
    }
  })
})
