"""Reference for swiglu_forward/backward: F.silu(gate) * up, as in transformers' LlamaMLP, and autograd."""
import torch
import torch.nn.functional as F
from oracle_io import serve


def compute(case):
    N, Fd = case["N"], case["F"]
    gate = (4 * torch.randn(N, Fd)).requires_grad_()
    up = torch.randn(N, Fd, requires_grad=True)
    dout = torch.randn(N, Fd)
    out = F.silu(gate) * up
    out.backward(dout)
    return dict(gate=gate, up=up, dout=dout, out=out, dgate=gate.grad, dup=up.grad)


serve(compute)
