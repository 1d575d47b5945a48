/**
 * The README.md model card of an exported model: what it is, how it was trained (the checkpoint's
 * training_args.json), how it scored (the evaluate stage's metrics), and how to load it. Only
 * what the export's inputs determine, so equal inputs give equal bytes; `pipeline export` appends
 * the run that made it, with the datasets and their digests (see src/cli/commands/export.ts).
 */
import type { EvalMetricsColumns } from "../schemas/evaluation.ts"
import type * as arrow from "apache-arrow"

export interface CardFacts {
  readonly architecture: string
  readonly parameters: number
  readonly baseModel: string | undefined
  readonly dtype: string
  readonly templateOrigin: string
  /** The checkpoint's training_args.json, when it has one. */
  readonly trainingArgs: Readonly<Record<string, unknown>> | undefined
  /** The trained step of the exported weights (trainer_state.json's global_step). */
  readonly step: number | undefined
  readonly metrics: arrow.Table<EvalMetricsColumns> | undefined
}

const cell = (value: unknown) => value === null || value === undefined ? "—" : typeof value === "number" ? String(Number(value.toPrecision(6))) : String(value)

export const modelCard = (facts: CardFacts): string => {
  const lines = [
    "---",
    "library_name: transformers",
    "pipeline_tag: text-generation",
    ...(facts.baseModel === undefined ? [] : [`base_model: ${facts.baseModel}`]),
    "tags:",
    "  - sft",
    "  - sft-pipeline",
    "---",
    "",
    `# ${facts.architecture}, supervised fine-tuning`,
    "",
    `${(facts.parameters / 1e6).toFixed(1)}M parameters, ${facts.baseModel === undefined ? "trained from scratch" : `fine-tuned from \`${facts.baseModel}\``}` +
      ` with sft-pipeline (native CPU engine); weights in ${facts.dtype}` +
      `${facts.step === undefined ? "" : `, from step ${facts.step}`}. Chat template: ${facts.templateOrigin}.`,
    "",
    "```python",
    "from transformers import AutoModelForCausalLM, AutoTokenizer",
    "",
    'tokenizer = AutoTokenizer.from_pretrained("path/to/this/directory")',
    'model = AutoModelForCausalLM.from_pretrained("path/to/this/directory")',
    'prompt = tokenizer.apply_chat_template([{"role": "user", "content": "Who are you?"}], add_generation_prompt=True, return_tensors="pt")',
    "print(tokenizer.decode(model.generate(prompt, max_new_tokens=64)[0][prompt.shape[-1]:], skip_special_tokens=True))",
    "```"
  ]
  if (facts.trainingArgs !== undefined) {
    lines.push("", "## Training hyper-parameters", "", "| name | value |", "|---|---|")
    for (const [name, value] of Object.entries(facts.trainingArgs).sort(([a], [b]) => a.localeCompare(b))) {
      lines.push(`| ${name} | ${typeof value === "object" ? JSON.stringify(value) : cell(value)} |`)
    }
  }
  if (facts.metrics !== undefined && facts.metrics.numRows > 0) {
    lines.push("", "## Evaluation", "", "| checkpoint | eval_loss | eval_perplexity | eval_token_accuracy | eval_task_metric |", "|---|---|---|---|---|")
    for (const row of facts.metrics.toArray()) {
      const r = row.toJSON()
      const chosen = r.step === facts.step ? " (exported)" : ""
      lines.push(`| ${r.checkpoint}${chosen} | ${cell(r.eval_loss)} | ${cell(r.eval_perplexity)} | ${cell(r.eval_token_accuracy)} | ${cell(r.eval_task_metric)} |`)
    }
  }
  return lines.join("\n") + "\n"
}
