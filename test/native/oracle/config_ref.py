"""How transformers reads config.json files: for each config on stdin (a JSON list), write it to a
directory, load it with AutoConfig.from_pretrained, build the model's own rotary embedding and print
what the engine must reproduce (inv_freq as fp32 values, attention scaling, head_dim, kv heads, ...).
"""
import importlib
import json
import sys
import tempfile

import torch
from transformers import AutoConfig

PREFIX = {"llama": "Llama", "mistral": "Mistral", "qwen2": "Qwen2", "qwen3": "Qwen3"}


def describe(raw):
    with tempfile.TemporaryDirectory() as d:
        with open(f"{d}/config.json", "w") as f:
            json.dump(raw, f)
        config = AutoConfig.from_pretrained(d)
    module = importlib.import_module(f"transformers.models.{config.model_type}.modeling_{config.model_type}")
    rotary = getattr(module, f"{PREFIX[config.model_type]}RotaryEmbedding")(config=config)
    return {
        "inv_freq": rotary.inv_freq.to(torch.float32).tolist(),
        "attention_scaling": float(rotary.attention_scaling),
        "head_dim": getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads,
        "num_key_value_heads": config.num_key_value_heads,
        "tie_word_embeddings": config.tie_word_embeddings,
        "rms_norm_eps": config.rms_norm_eps,
    }


print(json.dumps([describe(raw) for raw in json.load(sys.stdin)]))
