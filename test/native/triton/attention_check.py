"""attention over packed documents against torch's scaled_dot_product_attention per document
(causal, GQA by repeating kv heads), with autograd for the gradients."""
import torch
from attention import attention_backward, attention_forward
from check_io import DEVICE, rand, ref, serve


def reference(q, k, v, cu):
    H, KVH = q.shape[1], k.shape[1]
    outs, lses = [], []
    for d0, d1 in zip(cu[:-1], cu[1:]):
        qd = q[d0:d1].transpose(0, 1)  # (H, T, D)
        kd = k[d0:d1].repeat_interleave(H // KVH, dim=1).transpose(0, 1)
        vd = v[d0:d1].repeat_interleave(H // KVH, dim=1).transpose(0, 1)
        outs.append(torch.nn.functional.scaled_dot_product_attention(qd, kd, vd, is_causal=True).transpose(0, 1))
        scores = (qd @ kd.transpose(1, 2)) * q.shape[2] ** -0.5
        mask = torch.ones(d1 - d0, d1 - d0, dtype=torch.bool).tril()
        lses.append(torch.logsumexp(scores.masked_fill(~mask, float("-inf")), -1).transpose(0, 1))
    return torch.cat(outs), torch.cat(lses)


def compute(case):
    lengths, H, KVH, D = case["lengths"], case["H"], case["KVH"], case["D"]
    N = sum(lengths)
    cu = [0]
    for n in lengths:
        cu.append(cu[-1] + n)
    cu_t = torch.tensor(cu, dtype=torch.int32, device=DEVICE)
    q, k, v, dout = rand(N, H, D), rand(N, KVH, D), rand(N, KVH, D), rand(N, H, D)
    out, lse = torch.empty_like(q), torch.empty(N, H, device=DEVICE)
    attention_forward(out, lse, q, k, v, cu_t)
    dq, dk, dv = torch.empty_like(q), torch.empty_like(k), torch.empty_like(v)
    attention_backward(dq, dk, dv, dout, q, k, v, out, lse, cu_t)
    dq2, dk2, dv2 = torch.empty_like(q), torch.empty_like(k), torch.empty_like(v)
    attention_backward(dq2, dk2, dv2, dout, q, k, v, out, lse, cu_t)
    assert torch.equal(dq, dq2) and torch.equal(dk, dk2) and torch.equal(dv, dv2), "backward is not deterministic"

    qr, kr, vr = ref(q), ref(k), ref(v)
    out_r, lse_r = reference(qr, kr, vr, cu)
    out_r.backward(ref(dout))
    return dict(out=(out, out_r), lse=(lse, lse_r), dq=(dq, qr.grad), dk=(dk, kr.grad), dv=(dv, vr.grad))


# normal and odd shapes, small enough for the interpreter on two shared cores
CASES = [
    {"seed": 0, "lengths": [5, 33, 1, 18], "H": 4, "KVH": 2, "D": 12},
    {"seed": 1, "lengths": [40], "H": 2, "KVH": 2, "D": 16},
    {"seed": 2, "lengths": [17, 16], "H": 6, "KVH": 1, "D": 8},
]

serve(compute, CASES)
