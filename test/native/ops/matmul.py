"""Reference for matmul_forward/backward: torch.nn.functional.linear and autograd."""
import torch
import torch.nn.functional as F
from oracle_io import serve


def compute(case):
    N, C, OC = case["N"], case["C"], case["OC"]
    x = torch.randn(N, C, requires_grad=True)
    w = (torch.randn(OC, C) / C**0.5).requires_grad_()
    b = torch.randn(OC, requires_grad=True)
    dout = torch.randn(N, OC)
    # Parameter gradients ACCUMULATE into what is already there.
    dw0 = torch.randn(OC, C)
    db0 = torch.randn(OC)
    out = F.linear(x, w, b if case["bias"] else None)
    out.backward(dout)
    db = db0 + b.grad if case["bias"] else db0
    return dict(x=x, w=w, b=b, dout=dout, dw0=dw0, db0=db0, out=out, dx=x.grad, dw=dw0 + w.grad, db=db)


serve(compute)
