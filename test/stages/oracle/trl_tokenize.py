"""TRL's own tokenization of a JSON Lines chat dataset, the reference of template_trl.test.ts.

  trl_tokenize.py <data.jsonl> <tokenizer dir> <workdir>

`datasets.load_dataset("json")` (which fills absent fields of a row's messages with None, as a
user's TRL run sees them), then SFTTrainer's own preparation without packing or truncation: the
chat template applied with the row's `tools` (TRL parses tools given as JSON text) and tokenized.
The trainer needs a model: a tiny random Qwen3. stdout: JSON list of each row's input ids.
"""
import json
import os
import sys

data, tokenizer_dir, workdir = sys.argv[1], sys.argv[2], sys.argv[3]
os.environ["HF_DATASETS_CACHE"] = os.path.join(workdir, "hf-cache")

import datasets  # noqa: E402
from transformers import AutoTokenizer, Qwen3Config, Qwen3ForCausalLM  # noqa: E402
from trl import SFTConfig, SFTTrainer  # noqa: E402

datasets.disable_progress_bars()
tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
model = Qwen3ForCausalLM(Qwen3Config(vocab_size=len(tokenizer), hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                                     num_attention_heads=2, num_key_value_heads=1, head_dim=8))
dataset = datasets.load_dataset("json", data_files=data, split="train")
config = SFTConfig(output_dir=os.path.join(workdir, "out"), max_length=None, packing=False, report_to="none", use_cpu=True)
trainer = SFTTrainer(model=model, args=config, train_dataset=dataset, processing_class=tokenizer)
print(json.dumps([list(ids) for ids in trainer.train_dataset["input_ids"]]))
