"""Reference side of the safetensors tests, using the `safetensors` library and torch.

  make DIR      writes DIR/mixed.safetensors (F32, BF16, F16 tensors) and a sharded model directory
                DIR/sharded/ (model.safetensors.index.json + 2 shards); prints every tensor as fp32 JSON
  load FILE     loads FILE with safetensors.torch.load_file; prints its tensors as fp32 JSON
  check FILE..  prints, per file, whether safe_open accepts it and reads every tensor
"""
import json
import os
import sys

import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file


def as_json(tensors):
    return {name: {"shape": list(t.shape), "values": t.float().flatten().tolist()} for name, t in tensors.items()}


def make(out):
    g = torch.Generator().manual_seed(7)
    mixed = {
        "f32.matrix": torch.randn(5, 3, generator=g),
        "bf16.vector": (torch.randn(17, generator=g) * 100).to(torch.bfloat16),
        "f16.cube": (torch.randn(2, 3, 4, generator=g) * 10).to(torch.float16),
        "f16.special": torch.tensor([0.0, -0.0, 6.0e-8, 65504.0, -65504.0, 1e-5, 0.1], dtype=torch.float16),
        "f32.scalar": torch.tensor(3.25),
        "f32.empty": torch.zeros(0, 4),
    }
    save_file(mixed, os.path.join(out, "mixed.safetensors"), metadata={"format": "pt"})
    shards = {
        "model-00001-of-00002.safetensors": {"a.weight": torch.randn(4, 6, generator=g), "b.bias": torch.randn(6, generator=g)},
        "model-00002-of-00002.safetensors": {"c.weight": torch.randn(3, 3, generator=g).to(torch.bfloat16)},
    }
    sharded = os.path.join(out, "sharded")
    os.makedirs(sharded, exist_ok=True)
    weight_map = {}
    for shard, tensors in shards.items():
        save_file(tensors, os.path.join(sharded, shard), metadata={"format": "pt"})
        weight_map.update({name: shard for name in tensors})
    with open(os.path.join(sharded, "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": 0}, "weight_map": weight_map}, f)
    every = dict(mixed)
    for tensors in shards.values():
        every.update(tensors)
    print(json.dumps(as_json(every)))


def check(files):
    verdicts = {}
    for path in files:
        try:
            with safe_open(path, framework="pt") as f:
                for name in f.keys():
                    f.get_tensor(name)
            verdicts[path] = "ok"
        except Exception as e:  # the verdict is the point: any refusal counts
            verdicts[path] = f"refused: {type(e).__name__}: {e}"
    print(json.dumps(verdicts))


if __name__ == "__main__":
    command = sys.argv[1]
    if command == "make":
        make(sys.argv[2])
    elif command == "load":
        print(json.dumps(as_json(load_file(sys.argv[2]))))
    elif command == "check":
        check(sys.argv[2:])
    else:
        raise SystemExit(f"unknown command {command}")
