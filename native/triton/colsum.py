"""Column sums in a fixed order: out (C) += sum over rows of x (R, C), rows added first to last in
fp32. The deterministic second stage of every reduction over tokens (dweight of RMSNorm, bias
gradients): no atomics, so the bits never depend on how programs were scheduled."""
import triton
import triton.language as tl


@triton.jit
def _colsum_accumulate(out, x, R, C, BLOCK_C: tl.constexpr):
    cols = tl.program_id(0) * BLOCK_C + tl.arange(0, BLOCK_C)
    mask = cols < C
    acc = tl.zeros((BLOCK_C,), dtype=tl.float32)
    for r in range(R):
        acc += tl.load(x + r * C + cols, mask=mask, other=0.0).to(tl.float32)
    acc += tl.load(out + cols, mask=mask, other=0.0).to(tl.float32)
    tl.store(out + cols, acc.to(out.dtype.element_ty), mask=mask)


BLOCK_C = 256


def colsum_accumulate(out, x):
    """out (C) += x (R, C).sum(0), rows in order."""
    R, C = x.shape
    assert out.shape == (C,) and x.is_contiguous()
    _colsum_accumulate[(triton.cdiv(C, BLOCK_C),)](out, x, R, C, BLOCK_C=BLOCK_C)
