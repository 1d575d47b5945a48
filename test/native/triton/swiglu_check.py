"""swiglu against torch.nn.functional.silu(gate) * up and autograd."""
import torch
from check_io import rand, ref, serve
from swiglu import swiglu_backward, swiglu_forward


def compute(case):
    N, F = case["N"], case["F"]
    gate, up, dout = rand(N, F, scale=4.0), rand(N, F), rand(N, F)
    out, dgate, dup = torch.empty_like(gate), torch.empty_like(gate), torch.empty_like(gate)
    swiglu_forward(out, gate, up)
    swiglu_backward(dgate, dup, dout, gate, up)
    g, u = ref(gate), ref(up)
    out_r = torch.nn.functional.silu(g) * u
    out_r.backward(ref(dout))
    return dict(out=(out, out_r), dgate=(dgate, g.grad), dup=(dup, u.grad))


# normal and odd shapes, small enough for the interpreter on two shared cores
CASES = [
    {"seed": 0, "N": 37, "F": 123},
    {"seed": 1, "N": 16, "F": 256},
    {"seed": 2, "N": 1, "F": 5},
]

serve(compute, CASES)
