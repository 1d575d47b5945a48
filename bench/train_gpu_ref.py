"""transformers + PyTorch side of bench/train-gpu.ts: the same training steps on the GPU, bf16 mixed
precision as the HF Trainer's bf16=True does it (fp32 weights and AdamW state, autocast to bf16),
sdpa attention, the packed documents in one row whose position_ids restart per document (which
transformers turns into a block-diagonal causal mask).

    python3 bench/train_gpu_ref.py bench/train-gpu.json    ({"config", "lengths", "rows", "steps", "warmup"})

prints one JSON line: {"tokens_per_s", "step_s", "peak_bytes", "loss"}.
"""
import json
import sys
import time

import torch
from transformers import AutoConfig, AutoModelForCausalLM

spec = json.load(open(sys.argv[1]))
torch.manual_seed(0)
config = AutoConfig.for_model(**spec["config"])
config._attn_implementation = "sdpa"
model = AutoModelForCausalLM.from_config(config, torch_dtype=torch.float32, attn_implementation="sdpa").cuda().train()
no_decay = lambda name: name.endswith(".bias") or "norm" in name
optimizer = torch.optim.AdamW(
    [
        {"params": [p for n, p in model.named_parameters() if not no_decay(n)], "weight_decay": 0.01},
        {"params": [p for n, p in model.named_parameters() if no_decay(n)], "weight_decay": 0.0},
    ],
    lr=1e-4, betas=(0.9, 0.95), eps=1e-8, fused=True,
)
lengths, rows = spec["lengths"], spec["rows"]
N = sum(lengths)
ids = torch.randint(0, config.vocab_size, (rows, N), device="cuda")
labels = ids.clone()
starts = torch.tensor([0] + lengths[:-1]).cumsum(0)
labels[:, starts] = -100  # a document's first label is never scored, as in our packed batches
positions = torch.cat([torch.arange(n) for n in lengths]).expand(rows, N).cuda()


def step():
    with torch.autocast("cuda", dtype=torch.bfloat16):
        loss = model(input_ids=ids, position_ids=positions, labels=labels).loss
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    return loss.item()


for _ in range(spec["warmup"]):
    step()
torch.cuda.synchronize()
torch.cuda.reset_peak_memory_stats()
started = time.perf_counter()
for _ in range(spec["steps"]):
    loss = step()
torch.cuda.synchronize()
elapsed = time.perf_counter() - started
print(json.dumps({
    "tokens_per_s": rows * N * spec["steps"] / elapsed,
    "step_s": elapsed / spec["steps"],
    "peak_bytes": torch.cuda.max_memory_allocated(),
    "loss": loss,
}))
