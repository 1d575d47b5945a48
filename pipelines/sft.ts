/**
 * The embedded default SFT pipeline: LLaMA-Factory's identity set (91 alpaca pairs) rendered with
 * Phi-3-mini's chat template, tokenized with its tokenizer (loss on assistant turns only), split
 * for validation, packed, and used to train a small Llama from scratch on the CPU; every
 * checkpoint answers the held-out questions, the one with the lowest validation loss is picked
 * and exported as a Hugging Face model directory. Everything it reads lives in pipelines/data/
 * (see SOURCES.md there).
 *
 *   pipeline run pipelines/sft.ts --set train.learningRate=1e-3
 *   pipeline export last ./identity-model
 */
import { definePipeline } from "../src/index.ts"
import { load } from "../stages/load.ts"
import { pack } from "../stages/pack.ts"
import { template } from "../stages/template.ts"
import { tokenize } from "../stages/tokenize.ts"
import { evaluate } from "../stages/evaluate.ts"
import { exportModel } from "../stages/export.ts"
import { selectBest } from "../stages/selectBest.ts"
import { train } from "../stages/train.ts"

const maxSeqLength = 1024

export default definePipeline({ name: "sft", seed: 42 }, (p) => {
  const model = p.dir("data/model")
  const tokenizer = p.file("data/model/tokenizer.json")

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

  const trained = p.add(train, {
    inputs: { train: packed[0]!, validation: packed[1]!, model },
    config: {
      fromScratch: true,
      learningRate: 3e-3,
      numTrainEpochs: 30,
      perDeviceTrainBatchSize: 2,
      warmupRatio: 0.1,
      lrSchedulerType: "cosine",
      weightDecay: 0.01,
      evalSteps: 30,
      saveSteps: 30,
      evalOnStart: true
    }
  })

  // Held-out questions answered by each checkpoint: does the answer name the assistant?
  const scores = p.add(evaluate, {
    inputs: { checkpoints: trained.checkpoints, validation: packed[1]!, prompts: data.validation, tokenizer: model },
    config: { maxNewTokens: 64, metric: { type: "contains", text: "Ada" } }
  })
  const best = p.add(selectBest, { inputs: { metrics: scores.metrics, checkpoints: trained.checkpoints } })
  p.add(exportModel, { inputs: { model: best.model, tokenizer: model, metrics: scores.metrics } })
})
