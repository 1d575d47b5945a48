"""RMSNorm as transformers' LlamaRMSNorm: out = weight * (x * rstd), rstd = 1 / sqrt(mean(x^2) + eps).

Backward, with g = dout * weight and xhat = x * rstd:
    dinp (+)= rstd * (g - xhat * mean(g * xhat)),    dweight += sum over rows of dout * xhat
dweight is summed without atomics: each program adds ROWS rows into its own partial row, and
colsum adds the partials in program order, so the bits do not depend on scheduling.
Statistics are fp32 whatever the tensor dtype.
"""
import triton
import triton.language as tl

from colsum import colsum_accumulate


@triton.jit
def _rmsnorm_forward(out, rstd, inp, weight, C, eps, BLOCK_C: tl.constexpr):
    row = tl.program_id(0)
    cols = tl.arange(0, BLOCK_C)
    mask = cols < C
    x = tl.load(inp + row * C + cols, mask=mask, other=0.0).to(tl.float32)
    w = tl.load(weight + cols, mask=mask, other=0.0).to(tl.float32)
    r = 1.0 / tl.sqrt(tl.sum(x * x, axis=0) / C + eps)
    tl.store(rstd + row, r)
    tl.store(out + row * C + cols, (w * (x * r)).to(out.dtype.element_ty), mask=mask)


@triton.jit
def _rmsnorm_backward(dinp, dweight_partial, dout, inp, weight, rstd, N, C, ROWS: tl.constexpr,
                      BLOCK_C: tl.constexpr, ACCUMULATE: tl.constexpr):
    pid = tl.program_id(0)
    cols = tl.arange(0, BLOCK_C)
    mask = cols < C
    w = tl.load(weight + cols, mask=mask, other=0.0).to(tl.float32)
    dw = tl.zeros((BLOCK_C,), dtype=tl.float32)
    for i in range(ROWS):
        row = pid * ROWS + i
        if row < N:
            x = tl.load(inp + row * C + cols, mask=mask, other=0.0).to(tl.float32)
            d = tl.load(dout + row * C + cols, mask=mask, other=0.0).to(tl.float32)
            r = tl.load(rstd + row)
            xhat = x * r
            g = d * w
            dx = r * (g - xhat * (tl.sum(g * xhat, axis=0) / C))
            if ACCUMULATE:
                dx += tl.load(dinp + row * C + cols, mask=mask, other=0.0).to(tl.float32)
            tl.store(dinp + row * C + cols, dx.to(dinp.dtype.element_ty), mask=mask)
            dw += d * xhat
    tl.store(dweight_partial + pid * C + cols, dw, mask=mask)


# Rows per backward program: the partial dweight rows cost N / ROWS * C floats of scratch.
ROWS = 16


def rmsnorm_forward(out, rstd, inp, weight, eps):
    """out, inp (N, C); weight (C); rstd (N) fp32, saved for backward."""
    N, C = inp.shape
    assert out.shape == inp.shape and weight.shape == (C,) and rstd.shape == (N,)
    _rmsnorm_forward[(N,)](out, rstd, inp, weight, C, eps, BLOCK_C=triton.next_power_of_2(C))


def rmsnorm_backward(dinp, dweight, dout, inp, weight, rstd, accumulate):
    """dinp (N, C) accumulated when accumulate, else written; dweight (C) fp32, always accumulated."""
    N, C = inp.shape
    assert dinp.shape == dout.shape == inp.shape and dweight.shape == (C,)
    programs = triton.cdiv(N, ROWS)
    partial = inp.new_empty((programs, C), dtype=dweight.dtype)
    _rmsnorm_backward[(programs,)](dinp, partial, dout, inp, weight, rstd, N, C, ROWS=ROWS,
                                   BLOCK_C=triton.next_power_of_2(C), ACCUMULATE=accumulate)
    colsum_accumulate(dweight, partial)
