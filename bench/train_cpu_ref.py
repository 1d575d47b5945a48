"""PyTorch side of bench/train-cpu.ts: the same training step in transformers, fp32, one thread.

A line protocol on stdin/stdout so the benchmark can interleave our steps with PyTorch's (both
then see the same load from whatever else runs on the machine):
  first line: {"config": config.json dict, "batch": rows, "seq": tokens per row, "seed": int, "adam": {...}}
              answered with {"ready": true}
  "step":     one fwd+bwd+clip+AdamW step, answered with {"wall": s, "cpu": s, "loss": mean token loss}
  "done":     answered with {"max_rss_kib": peak RSS of this process}, then exit
"""
import json
import resource
import sys
import time

import torch
from transformers import LlamaConfig, LlamaForCausalLM

torch.set_num_threads(1)


def reply(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


spec = json.loads(sys.stdin.readline())
torch.manual_seed(spec["seed"])
model = LlamaForCausalLM(LlamaConfig(**spec["config"])).train()
adam = spec["adam"]
no_decay = lambda name: name.endswith(".bias") or "norm" in name
optimizer = torch.optim.AdamW(
    [
        {"params": [p for n, p in model.named_parameters() if not no_decay(n)], "weight_decay": adam["weight_decay"]},
        {"params": [p for n, p in model.named_parameters() if no_decay(n)], "weight_decay": 0.0},
    ],
    lr=adam["lr"], betas=(adam["beta1"], adam["beta2"]), eps=adam["eps"],
)
ids = torch.randint(0, spec["config"]["vocab_size"], (spec["batch"], spec["seq"]))
labels = ids.clone()
labels[:, 0] = -100  # as the packed batch: a document's first label is never scored
reply({"ready": True})

for line in sys.stdin:
    command = line.strip()
    if command == "step":
        wall, cpu = time.perf_counter(), time.process_time()
        loss = model(input_ids=ids, labels=labels).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), adam["max_grad_norm"])
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        reply({"wall": time.perf_counter() - wall, "cpu": time.process_time() - cpu, "loss": loss.item()})
    elif command == "done":
        reply({"max_rss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss})
        break
    else:
        raise SystemExit(f"unknown command {command!r}")
