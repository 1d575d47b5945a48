"""embedding against torch.nn.functional.embedding and autograd; repeated ids exercise the segments."""
import torch
from check_io import DEVICE, rand, ref, serve
from embedding import embedding_backward, embedding_forward


def compute(case):
    N, V, C = case["N"], case["V"], case["C"]
    wte, dout = rand(V, C), rand(N, C)
    ids = torch.randint(0, case["distinct"], (N,), dtype=torch.int32)
    dwte0 = torch.randn(V, C, device=DEVICE)
    out = torch.empty(N, C, dtype=wte.dtype, device=DEVICE)
    embedding_forward(out, ids.to(DEVICE), wte)
    dwte = dwte0.clone()
    embedding_backward(dwte, dout, ids.to(DEVICE))
    w = ref(wte)
    out_r = torch.nn.functional.embedding(ids.long(), w)
    out_r.backward(ref(dout))
    return dict(out=(out, out_r), dwte=(dwte, ref(dwte0) + w.grad))


# normal and odd shapes, small enough for the interpreter on two shared cores
CASES = [
    {"seed": 0, "N": 41, "V": 50, "C": 37, "distinct": 7},
    {"seed": 1, "N": 64, "V": 300, "C": 160, "distinct": 300},
]

serve(compute, CASES)
