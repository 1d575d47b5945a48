"""Reference for rmsnorm_forward/backward: transformers' LlamaRMSNorm and autograd."""
import torch
from oracle_io import serve
from transformers.models.llama.modeling_llama import LlamaRMSNorm


def compute(case):
    N, C, eps = case["N"], case["C"], case["eps"]
    norm = LlamaRMSNorm(C, eps=eps)
    with torch.no_grad():
        norm.weight.copy_(1 + 0.1 * torch.randn(C))
    x = (3 * torch.randn(N, C)).requires_grad_()
    dout = torch.randn(N, C)
    dw0 = torch.randn(C)  # dweight ACCUMULATES
    out = norm(x)
    out.backward(dout)
    rstd = torch.rsqrt(x.detach().pow(2).mean(-1) + eps)
    return dict(x=x, w=norm.weight, dout=dout, dw0=dw0, out=out, rstd=rstd, dx=x.grad, dw=dw0 + norm.weight.grad)


serve(compute)
