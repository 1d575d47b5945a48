"""adamw against torch.optim.AdamW over several steps; sum_squares and the elementwise ops against torch."""
import torch
from adamw import adamw_update, sum_squares
from check_io import DEVICE, DTYPE, rand, ref, serve
from elementwise import add_inplace, scale_inplace


def compute(case):
    n, steps = case["n"], case["steps"]
    lr, b1, b2, eps, wd, clip = case["lr"], case["beta1"], case["beta2"], case["eps"], case["weightDecay"], case["clip"]
    master = torch.randn(n, device=DEVICE)
    param = master.to(DTYPE)
    m, v = torch.zeros(n, device=DEVICE), torch.zeros(n, device=DEVICE)
    p_r = master.detach().cpu().clone().requires_grad_()
    opt = torch.optim.AdamW([p_r], lr=lr, betas=(b1, b2), eps=eps, weight_decay=wd)
    for step in range(1, steps + 1):
        grad = rand(n)
        adamw_update(param, master, m, v, grad, lr, b1, b2, eps, wd, clip, step)
        p_r.grad = ref(grad).detach() * clip
        opt.step()
    x = rand(n, scale=3.0)
    total = torch.empty(1, dtype=torch.float64, device=DEVICE)
    sum_squares(total, x)
    scaled = x.clone()
    scale_inplace(scaled, 0.37)
    y = rand(n)
    added = x.clone()
    add_inplace(added, y)
    state = opt.state[p_r]
    return dict(
        master=(master, p_r),
        param=(param, p_r),
        m=(m, state["exp_avg"]),
        v=(v, state["exp_avg_sq"]),
        sum_squares=(total, ref(x).double().pow(2).sum().reshape(1)),
        scaled=(scaled, ref(x) * 0.37),
        added=(added, ref(x) + ref(y)),
    )


# normal and odd shapes, small enough for the interpreter on two shared cores
CASES = [
    {"seed": 0, "n": 3001, "steps": 5, "lr": 1e-3, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "weightDecay": 0.1, "clip": 1},
    {"seed": 1, "n": 17, "steps": 3, "lr": 3e-2, "beta1": 0.8, "beta2": 0.95, "eps": 1e-6, "weightDecay": 0, "clip": 0.25},
]

serve(compute, CASES)
