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
import { identityDag } from "./identityDag.ts"

export default definePipeline({ name: "sft", seed: 42 }, (p) => {
  const model = p.dir("data/model")
  identityDag(p, {
    model,
    tokenizer: p.file("tokenizer.json", { in: model }),
    // 90 steps from scratch: the held-out answers name the assistant from about step 60 on.
    train: {
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
})
