/**
 * bench/data-scale.ts's pipeline: load → template → tokenize → pack of a JSON Lines dataset with
 * the Qwen3 tokenizer and template, at TRL's default max_length (1024). The bench points the
 * named inputs at its files: --set data.path=… --set qwen3.path=…
 */
import { definePipeline } from "../src/index.ts"
import { load } from "../stages/load.ts"
import { pack } from "../stages/pack.ts"
import { template } from "../stages/template.ts"
import { tokenize } from "../stages/tokenize.ts"

export default definePipeline({ name: "data-scale", seed: 1 }, (p) => {
  const model = p.dir("out/qwen3", { name: "qwen3" })
  const loaded = p.add(load, { inputs: { train: p.file("out/data-scale.jsonl", { name: "data" }) } })
  const rendered = p.add(template, { inputs: { conversations: loaded.train, tokenizer: model } })
  const tokens = p.add(tokenize, {
    inputs: { rows: rendered.rendered, tokenizer: p.file("tokenizer.json", { in: model }) },
    config: { mode: "all", maxSeqLength: 1024, truncation: "right" }
  })
  p.add(pack, { inputs: { tokens: tokens.tokens }, config: { maxSeqLength: 1024 } })
})
