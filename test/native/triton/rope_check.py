"""rope against transformers' apply_rotary_pos_emb (rotate_half) with cos/sin from inv_freq."""
import torch
from check_io import DEVICE, rand, ref, serve
from rope import rope_backward, rope_forward
from transformers.models.llama.modeling_llama import rotate_half


def compute(case):
    N, NH, D, scaling = case["N"], case["NH"], case["D"], case["scaling"]
    x, dout = rand(N, NH, D), rand(N, NH, D)
    pos = torch.randint(0, 4096, (N,), dtype=torch.int32)
    inv_freq = 1.0 / (10000 ** (torch.arange(0, D, 2, dtype=torch.float32) / D))
    pos_d, inv_d = pos.to(DEVICE), inv_freq.to(DEVICE)
    out = torch.empty_like(x)
    rope_forward(out, x, pos_d, inv_d, scaling)
    inplace = x.clone()
    rope_forward(inplace, inplace, pos_d, inv_d, scaling)
    dinp = torch.empty_like(dout)
    rope_backward(dinp, dout, pos_d, inv_d, scaling)

    angle = pos.float()[:, None] * inv_freq[None, :]
    emb = torch.cat([angle, angle], dim=-1)[:, None, :]
    cos, sin = emb.cos() * scaling, emb.sin() * scaling
    xr = ref(x)
    out_r = xr * cos + rotate_half(xr) * sin
    out_r.backward(ref(dout))
    return dict(out=(out, out_r), in_place=(inplace, out_r), dinp=(dinp, xr.grad))


# normal and odd shapes, small enough for the interpreter on two shared cores
CASES = [
    {"seed": 0, "N": 23, "NH": 3, "D": 10, "scaling": 1},
    {"seed": 1, "N": 16, "NH": 4, "D": 64, "scaling": 1.2},
]

serve(compute, CASES)
