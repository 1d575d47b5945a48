"""TRL's own preprocessing of a JSON Lines chat dataset, the reference of bench/data-scale.ts.

  data_scale_ref.py <data.jsonl> <tokenizer dir> <workdir> <num_proc>

`datasets.load_dataset("json")`, then SFTTrainer's `_prepare_dataset` as its constructor runs it:
the chat template applied and tokenized (`dataset_num_proc` processes), truncated to max_length
1024, and packed with best-fit-decreasing (`packing_strategy="bfd"`). The trainer needs a model:
a tiny random Qwen3 is built first, before the clock starts. Prints one JSON line: rows, tokens
(packed input ids), seconds (load_dataset through packing).
"""
import json
import os
import sys
import time

data, tokenizer_dir, workdir, num_proc = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
os.environ["HF_DATASETS_CACHE"] = os.path.join(workdir, "hf-cache")

import datasets  # noqa: E402
from transformers import AutoTokenizer, Qwen3Config, Qwen3ForCausalLM  # noqa: E402
from trl import SFTConfig, SFTTrainer  # noqa: E402

tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
model = Qwen3ForCausalLM(Qwen3Config(vocab_size=len(tokenizer), hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                                     num_attention_heads=2, num_key_value_heads=1, head_dim=8))

start = time.perf_counter()
dataset = datasets.load_dataset("json", data_files=data, split="train")
config = SFTConfig(output_dir=os.path.join(workdir, "out"), max_length=1024, packing=True, packing_strategy="bfd",
                   dataset_num_proc=num_proc, report_to="none", bf16=False, use_cpu=True)
trainer = SFTTrainer(model=model, args=config, train_dataset=dataset, processing_class=tokenizer)
packed = trainer.train_dataset
tokens = sum(len(ids) for ids in packed["input_ids"])
seconds = time.perf_counter() - start
print(json.dumps({"rows": len(dataset), "packedRows": len(packed), "tokens": tokens, "seconds": seconds}))
