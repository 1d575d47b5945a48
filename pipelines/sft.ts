/**
 * The embedded default SFT pipeline: LLaMA-Factory's identity set (91 alpaca pairs) rendered with
 * Phi-3-mini's chat template, tokenized with its tokenizer (loss on assistant turns only), split
 * for validation and packed. Everything it reads lives in pipelines/data/ (see SOURCES.md there).
 *
 *   pipeline run pipelines/sft.ts --set pack.maxSeqLength=512
 */
import { definePipeline } from "../src/index.ts"
import { load } from "../stages/load.ts"
import { pack } from "../stages/pack.ts"
import { template } from "../stages/template.ts"
import { tokenize } from "../stages/tokenize.ts"

export default definePipeline({ name: "sft", seed: 42 }, (p) => {
  const model = p.dir("data/phi-3-mini")
  const tokenizer = p.file("data/phi-3-mini/tokenizer.json")

  const data = p.add(load, {
    inputs: { train: p.file("data/identity.json") },
    config: { format: "alpaca", replace: { "{{name}}": "Ada", "{{author}}": "the SFT pipeline team" }, validationFraction: 0.1 }
  })

  for (const split of ["train", "validation"] as const) {
    const suffix = split === "train" ? "" : "_eval"
    const rendered = p.add(template, { name: `template${suffix}`, inputs: { conversations: data[split], tokenizer: model } })
    const tokens = p.add(tokenize, {
      name: `tokenize${suffix}`,
      inputs: { rows: rendered.rendered, tokenizer },
      config: { maxSeqLength: 1024, truncation: "drop" }
    })
    p.add(pack, { name: `pack${suffix}`, inputs: { tokens: tokens.tokens }, config: { maxSeqLength: 1024 } })
  }
})
