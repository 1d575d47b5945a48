"""A tiny pretrained-looking Hugging Face directory, as a user downloads one from the hub.

stdin: {"out", "architecture": llama | mistral | qwen2 | qwen3, "tokenizer": dir, "seed"}. Builds a
random model of that architecture with transformers (2 layers, hidden 64, GQA), sized to the
tokenizer's vocabulary, and writes it with save_pretrained together with the tokenizer loaded
from `tokenizer` (its tokenizer.json and tokenizer_config.json, chat template included), so the
directory has exactly the files and layout transformers 5 writes.
"""
import json
import sys

import torch
from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

request = json.load(sys.stdin)
tokenizer = AutoTokenizer.from_pretrained(request["tokenizer"])
shape = dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
             num_key_value_heads=2, max_position_embeddings=2048, vocab_size=len(tokenizer))
# Qwen's small models tie the embeddings (which also halves a 152k-token vocabulary's weights).
extra = {"qwen2": dict(tie_word_embeddings=True), "qwen3": dict(head_dim=16, tie_word_embeddings=True),
         "mistral": dict(sliding_window=None)}.get(request["architecture"], dict(tie_word_embeddings=False))
config = AutoConfig.for_model(request["architecture"], **shape, **extra)
torch.manual_seed(request["seed"])
model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
model.save_pretrained(request["out"])
tokenizer.save_pretrained(request["out"])
print(json.dumps({"parameters": sum(p.numel() for p in model.parameters())}))
