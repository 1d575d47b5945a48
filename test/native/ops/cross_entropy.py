"""Reference for the fused linear cross-entropy: F.linear then F.cross_entropy(reduction="sum",
ignore_index=-100), autograd for dinp and dweight (scaled by grad_scale), and how many scored
targets are the logits' argmax (token accuracy)."""
import torch
import torch.nn.functional as F
from oracle_io import serve


def compute(case):
    N, C, V = case["N"], case["C"], case["V"]
    x = torch.randn(N, C, requires_grad=True)
    w = (torch.randn(V, C) / C**0.5).requires_grad_()
    target = torch.randint(0, V, (N,))
    logits = F.linear(x, w)
    predicted = logits.argmax(-1)
    half = torch.rand(N) < 0.5
    target[half] = predicted[half]
    target[torch.rand(N) < case["ignored"]] = -100
    dw0 = torch.randn(V, C)  # dweight ACCUMULATES
    loss = F.cross_entropy(logits, target, reduction="sum", ignore_index=-100)
    (loss * case["scale"]).backward()
    dx = x.grad if x.grad is not None else torch.zeros(N, C)
    dw = dw0 + w.grad if w.grad is not None else dw0
    correct = int(((predicted == target) & (target != -100)).sum())
    return dict(x=x, w=w, target=target, dw0=dw0, loss=float(loss.double()), dx=dx, dw=dw, correct=correct)


serve(compute)
