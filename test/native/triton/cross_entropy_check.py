"""fused linear cross-entropy against torch.nn.functional.cross_entropy(reduction="sum") over the full
logits, with ignored (-100) targets; evaluation's loss and greedy-correct count."""
import torch
from check_io import DEVICE, rand, ref, serve
from cross_entropy import fused_linear_cross_entropy, linear_cross_entropy_loss


def compute(case):
    N, C, V, scale = case["N"], case["C"], case["V"], case["gradScale"]
    x, w = rand(N, C), rand(V, C, scale=0.5)
    target = torch.randint(0, V, (N,), dtype=torch.int32)
    target[torch.rand(N) < 0.3] = -100
    t = target.to(DEVICE)
    dinp, dw0 = torch.empty_like(x), rand(V, C)
    dw = dw0.clone()
    loss = fused_linear_cross_entropy(dinp, dw, x, w, t, scale)
    eval_loss, correct = linear_cross_entropy_loss(x, w, t)

    xr, wr = ref(x), ref(w)
    logits = xr @ wr.t()
    loss_r = torch.nn.functional.cross_entropy(logits, target.long(), ignore_index=-100, reduction="sum")
    (loss_r * scale).backward()
    scored = target != -100
    correct_r = ((logits.argmax(-1) == target.long()) & scored).sum().double()
    return dict(
        loss=(loss, loss_r.reshape(1)),
        eval_loss=(eval_loss, loss_r.reshape(1)),
        correct=(correct, correct_r.reshape(1)),
        dinp=(dinp, xr.grad),
        dweight=(dw, ref(dw0) + wr.grad),
    )


# normal and odd shapes, small enough for the interpreter on two shared cores
CASES = [
    {"seed": 0, "N": 37, "C": 24, "V": 1500, "gradScale": 1},
    {"seed": 1, "N": 300, "C": 16, "V": 97, "gradScale": 0.01},
]

serve(compute, CASES)
