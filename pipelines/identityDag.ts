/**
 * The DAG both shipped SFT pipelines build on LLaMA-Factory's identity set: load (10% held out) →
 * template → tokenize → pack for each split → train → evaluate (does each checkpoint's answer to a
 * held-out question name the assistant?) → select-best (lowest eval_loss) → export. Each pipeline
 * gives the model directory, its tokenizer.json and how to train.
 */
import type { BlobSpec, FilesSpec, Handle, PipelineBuilder } from "../src/index.ts"
import { evaluate } from "../stages/evaluate.ts"
import { exportModel } from "../stages/export.ts"
import { load } from "../stages/load.ts"
import { pack } from "../stages/pack.ts"
import { selectBest } from "../stages/selectBest.ts"
import { template } from "../stages/template.ts"
import { tokenize } from "../stages/tokenize.ts"
import { train } from "../stages/train.ts"

const maxSeqLength = 1024

export interface IdentityDag {
  readonly model: Handle<FilesSpec>
  readonly tokenizer: Handle<BlobSpec>
  readonly train: typeof train.config.Encoded
}

export const identityDag = (p: PipelineBuilder, options: IdentityDag): void => {
  const { model, tokenizer } = options
  const data = p.add(load, {
    inputs: { train: p.file("data/identity.json") },
    config: { format: "alpaca", replace: { "{{name}}": "Ada", "{{author}}": "the SFT pipeline team" }, validationFraction: 0.1 }
  })

  const packed = (["train", "validation"] as const).map((split) => {
    const suffix = split === "train" ? "" : "_eval"
    const rendered = p.add(template, { name: `template${suffix}`, inputs: { conversations: data[split], tokenizer: model } })
    const tokens = p.add(tokenize, {
      name: `tokenize${suffix}`,
      inputs: { rows: rendered.rendered, tokenizer },
      config: { maxSeqLength, truncation: "drop" }
    })
    return p.add(pack, { name: `pack${suffix}`, inputs: { tokens: tokens.tokens }, config: { maxSeqLength } }).packed
  })

  const trained = p.add(train, { inputs: { train: packed[0]!, validation: packed[1]!, model }, config: options.train })

  const scores = p.add(evaluate, {
    inputs: { checkpoints: trained.checkpoints, validation: packed[1]!, prompts: data.validation, tokenizer: model },
    config: { maxNewTokens: 64, metric: { type: "contains", text: "Ada" } }
  })
  const best = p.add(selectBest, { inputs: { metrics: scores.metrics, checkpoints: trained.checkpoints } })
  p.add(exportModel, { inputs: { model: best.model, tokenizer: model, metrics: scores.metrics } })
}
