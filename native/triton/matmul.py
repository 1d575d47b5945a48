"""Linear layer in the nn.Linear layout: out(N, OC) = inp(N, C) @ weight(OC, C)^T (+ bias(OC)),
through gemm. Backward: dinp (+)= dout @ weight, dweight += dout^T @ inp, dbias += column sums of
dout (colsum, in row order)."""
from colsum import colsum_accumulate
from gemm import gemm


def matmul_forward(out, inp, weight, bias):
    """out (N, OC), inp (N, C), weight (OC, C), bias (OC) or None."""
    gemm(out, inp, weight.t(), bias=bias)


def matmul_backward(dinp, dweight, dbias, dout, inp, weight, accumulate):
    """dinp (N, C) accumulated when accumulate, else written, skipped when None; dweight (OC, C) and
    dbias (OC, or None) always accumulated."""
    if dinp is not None:
        gemm(dinp, dout, weight, accumulate=accumulate)
    gemm(dweight, dout.t(), inp, accumulate=True)
    if dbias is not None:
        colsum_accumulate(dbias, dout)
