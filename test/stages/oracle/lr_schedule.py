# Learning rates transformers' get_scheduler gives for each optimizer step, as JSON on stdout.
# stdin: {"cases": [{"type", "total", "warmupRatio"}]}; the base rate is 1, so the rates are the factors.
import json
import math
import sys

import torch
from transformers import get_scheduler

cases = json.load(sys.stdin)["cases"]
out = []
for case in cases:
    param = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([param], lr=1.0)
    warmup = math.ceil(case["warmupRatio"] * case["total"])
    scheduler = get_scheduler(case["type"], optimizer, num_warmup_steps=warmup, num_training_steps=case["total"])
    rates = []
    for _ in range(case["total"]):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    out.append(rates)
print(json.dumps(out))
