"""matmul (through gemm) against torch.nn.functional.linear and autograd, with and without bias."""
import torch
from check_io import rand, ref, serve
from matmul import matmul_backward, matmul_forward


def compute(case):
    N, C, OC, bias, accumulate = case["N"], case["C"], case["OC"], case["bias"], case["accumulate"]
    x, w, dout = rand(N, C), rand(OC, C, scale=0.2), rand(N, OC)
    b = rand(OC) if bias else None
    dinp0, dw0 = rand(N, C), rand(OC, C)
    db0 = rand(OC) if bias else None
    out = torch.empty(N, OC, dtype=x.dtype, device=x.device)
    matmul_forward(out, x, w, b)
    dinp, dw = dinp0.clone(), dw0.clone()
    db = db0.clone() if bias else None
    matmul_backward(dinp, dw, db, dout, x, w, accumulate)

    xr, wr = ref(x), ref(w)
    br = ref(b) if bias else None
    out_r = torch.nn.functional.linear(xr, wr, br)
    out_r.backward(ref(dout))
    result = dict(
        out=(out, out_r),
        dinp=(dinp, xr.grad + (ref(dinp0) if accumulate else 0)),
        dweight=(dw, ref(dw0) + wr.grad),
    )
    if bias:
        result["dbias"] = (db, ref(db0) + br.grad)
    return result


# normal and odd shapes, small enough for the interpreter on two shared cores
CASES = [
    {"seed": 0, "N": 37, "C": 50, "OC": 70, "bias": True, "accumulate": True},
    {"seed": 1, "N": 64, "C": 96, "OC": 128, "bias": False, "accumulate": False},
    {"seed": 2, "N": 1, "C": 5, "OC": 3, "bias": True, "accumulate": False},
]

serve(compute, CASES)
