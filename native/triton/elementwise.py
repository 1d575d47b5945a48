"""Elementwise updates of the residual stream and the gradients, as cpu/elementwise.h:
add_inplace (out += inp) and scale_inplace (x *= s), in fp32 arithmetic."""
import triton
import triton.language as tl


@triton.jit
def _add_inplace(out, inp, n, BLOCK: tl.constexpr):
    i = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = i < n
    o = tl.load(out + i, mask=mask).to(tl.float32) + tl.load(inp + i, mask=mask).to(tl.float32)
    tl.store(out + i, o.to(out.dtype.element_ty), mask=mask)


@triton.jit
def _scale_inplace(x, s, n, BLOCK: tl.constexpr):
    i = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = i < n
    tl.store(x + i, (tl.load(x + i, mask=mask).to(tl.float32) * s).to(x.dtype.element_ty), mask=mask)


BLOCK = 1024


def add_inplace(out, inp):
    """out (n) += inp (n)."""
    n = out.numel()
    assert inp.numel() == n
    _add_inplace[(triton.cdiv(n, BLOCK),)](out, inp, n, BLOCK=BLOCK)


def scale_inplace(x, s):
    """x (n) *= s."""
    n = x.numel()
    _scale_inplace[(triton.cdiv(n, BLOCK),)](x, s, n, BLOCK=BLOCK)
