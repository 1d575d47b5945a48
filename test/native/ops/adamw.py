"""Reference for adamw_update over several steps: torch.optim.AdamW (single-tensor path, as on CPU), and
sum_squares in double."""
import torch
from oracle_io import serve


def compute(case):
    n, steps = case["n"], case["steps"]
    p = torch.nn.Parameter(torch.randn(n))
    p0 = p.detach().clone()
    opt = torch.optim.AdamW([p], lr=case["lr"], betas=(case["beta1"], case["beta2"]), eps=case["eps"],
                            weight_decay=case["wd"], foreach=False)
    grads = torch.randn(steps, n) * 0.1
    for s in range(steps):
        p.grad = grads[s].clone()
        opt.step()
    state = opt.state[p]
    return dict(p0=p0, grads=grads, p=p, m=state["exp_avg"], v=state["exp_avg_sq"],
                sumsq=float(grads[0].double().pow(2).sum()))


serve(compute)
