"""Reference for attention_forward/backward: torch SDPA (causal) on each document separately, GQA by
repeating kv heads as transformers' repeat_kv does, autograd for the backward."""
import torch
import torch.nn.functional as F
from oracle_io import serve


def compute(case):
    H, KVH, D = case["H"], case["KVH"], case["D"]
    lengths = case["lengths"]
    N = sum(lengths)
    q = torch.randn(N, H, D, requires_grad=True)
    k = torch.randn(N, KVH, D, requires_grad=True)
    v = torch.randn(N, KVH, D, requires_grad=True)
    dout = torch.randn(N, H, D)
    outs, lses = [], []
    start = 0
    for T in lengths:
        # (1, heads, T, D)
        qd = q[start:start + T].transpose(0, 1).unsqueeze(0)
        kd = k[start:start + T].transpose(0, 1).unsqueeze(0).repeat_interleave(H // KVH, dim=1)
        vd = v[start:start + T].transpose(0, 1).unsqueeze(0).repeat_interleave(H // KVH, dim=1)
        outs.append(F.scaled_dot_product_attention(qd, kd, vd, is_causal=True)[0].transpose(0, 1))
        scores = (qd @ kd.transpose(-1, -2))[0] / D**0.5
        mask = torch.ones(T, T, dtype=torch.bool).triu(1)
        lses.append(scores.masked_fill(mask, float("-inf")).logsumexp(-1).transpose(0, 1))
        start += T
    out = torch.cat(outs)
    out.backward(dout)
    cu = torch.tensor([0] + lengths).cumsum(0)
    return dict(q=q, k=k, v=v, dout=dout, cu=cu, out=out, lse=torch.cat(lses), dq=q.grad, dk=k.grad, dv=v.grad)


serve(compute)
