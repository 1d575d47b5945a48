/**
 * The default DAG fine-tuning a pretrained model: any transformers directory of a Llama, Mistral,
 * Qwen2/2.5 or Qwen3 model (config.json, safetensors, tokenizer.json, and its chat template in
 * chat_template.jinja or tokenizer_config.json), given for the run:
 *
 *   pipeline run pipelines/sft-hf.ts --set model.path=/path/to/Qwen2.5-0.5B-Instruct
 *   pipeline export last ./identity-qwen
 *
 * It learns the identity set in the model's own chat template, at the TRL chapter's learning rate
 * for the model's size, 3 epochs with an effective batch of 8 rows.
 */
import { definePipeline } from "../src/index.ts"
import { identityDag } from "./identityDag.ts"

export default definePipeline({ name: "sft-hf", seed: 42 }, (p) => {
  const model = p.dir("models/base", { name: "model" })
  identityDag(p, {
    model,
    tokenizer: p.file("tokenizer.json", { in: model }),
    train: {
      numTrainEpochs: 3,
      perDeviceTrainBatchSize: 2,
      gradientAccumulationSteps: 4,
      warmupRatio: 0.1,
      lrSchedulerType: "cosine",
      weightDecay: 0.01,
      evalOnStart: true
    }
  })
})
