"""PyTorch side of bench/kernels.ts: the same ops and shapes, fp32, one thread, CPU time of this thread
(time.thread_time, so other processes on the machine do not count). Prints JSON {op: best seconds}."""
import json
import sys
import time

import torch
import torch.nn.functional as F

torch.set_num_threads(1)
cfg = json.loads(sys.argv[1])
reps = cfg["reps"]
N, C, V, H, KVH, D, FF, S = cfg["N"], cfg["C"], cfg["V"], cfg["H"], cfg["KVH"], cfg["D"], cfg["F"], cfg["S"]


def best(fn):
    fn()
    t = 1e9
    for _ in range(reps):
        start = time.thread_time()
        fn()
        t = min(t, time.thread_time() - start)
    return t


results = {}
for name, OC, IC in cfg["linears"]:
    x = torch.randn(N, IC)
    w = torch.randn(OC, IC) / IC**0.5
    dy = torch.randn(N, OC)
    results[f"matmul_forward {name}"] = best(lambda: F.linear(x, w))
    results[f"matmul_backward {name}"] = best(lambda: (dy @ w, dy.t() @ x))

B = N // S
q = torch.randn(B, H, S, D, requires_grad=True)
k = torch.randn(B, KVH, S, D, requires_grad=True)
v = torch.randn(B, KVH, S, D, requires_grad=True)
do = torch.randn(B, H, S, D)


def attn():
    # transformers' sdpa path: repeat_kv, then causal SDPA
    kk = k.repeat_interleave(H // KVH, dim=1)
    vv = v.repeat_interleave(H // KVH, dim=1)
    return F.scaled_dot_product_attention(q, kk, vv, is_causal=True)


def attn_inference():
    # no autograd graph: the forward alone, as our attention_forward computes it
    with torch.no_grad():
        return attn()


results["attention_forward"] = best(attn_inference)
results["attention_forward+backward"] = best(lambda: attn().backward(do))

x = torch.randn(N, C, requires_grad=True)
w = (torch.randn(V, C) / C**0.5).requires_grad_()
target = torch.randint(0, V, (N,))
results["cross_entropy forward+backward"] = best(
    lambda: F.cross_entropy(F.linear(x, w), target, reduction="sum").backward())

g = torch.randn(N, FF, requires_grad=True)
u = torch.randn(N, FF, requires_grad=True)
dy = torch.randn(N, FF)
results["swiglu forward+backward"] = best(lambda: (F.silu(g) * u).backward(dy))

print(json.dumps(results))
