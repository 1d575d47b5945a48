"""Reference for embedding_forward/backward: F.embedding and autograd (repeated ids included)."""
import torch
import torch.nn.functional as F
from oracle_io import serve


def compute(case):
    N, V, C = case["N"], case["V"], case["C"]
    ids = torch.randint(0, V, (N,))
    wte = torch.randn(V, C, requires_grad=True)
    dout = torch.randn(N, C)
    dwte0 = torch.randn(V, C)  # dwte ACCUMULATES
    out = F.embedding(ids, wte)
    out.backward(dout)
    return dict(ids=ids, wte=wte, dout=dout, dwte0=dwte0, out=out, dwte=dwte0 + wte.grad)


serve(compute)
