"""PyTorch side of bench/train-cpu.ts: the same training step in transformers, fp32, one thread.

stdin: {"config": config.json dict, "batch": rows, "seq": tokens per row, "warmup": n, "steps": n,
        "seed": int, "adam": {...}}. Prints JSON: per-step seconds of the timed steps, tokens per
step, the losses, and the process's peak RSS.
"""
import json
import resource
import sys
import time

import torch
from transformers import LlamaConfig, LlamaForCausalLM

torch.set_num_threads(1)
spec = json.load(sys.stdin)
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
vocab = spec["config"]["vocab_size"]
ids = torch.randint(0, vocab, (spec["batch"], spec["seq"]))
labels = ids.clone()
labels[:, 0] = -100  # as the packed batch: a document's first label is never scored

seconds, losses = [], []
for step in range(spec["warmup"] + spec["steps"]):
    start = time.perf_counter()
    loss = model(input_ids=ids, labels=labels).loss
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), adam["max_grad_norm"])
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    elapsed = time.perf_counter() - start
    losses.append(loss.item())
    if step >= spec["warmup"]:
        seconds.append(elapsed)

print(json.dumps({
    "seconds": seconds,
    "tokens_per_step": ids.numel(),
    "losses": losses,
    "max_rss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
}))
