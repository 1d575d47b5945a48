"""Cross-entropy fused with the output projection (the Liger / Wijmans et al. 2024 "Cut Your Losses"
idea, chunked): logits = inp @ weight^T are made CHUNK tokens at a time in one fp32 scratch, so
the (N, V) logits never exist. Token t is scored against target[t] (the caller shifts labels);
-100 is ignored (no loss, zero gradient).

Per row: lse = log sum exp z; loss = lse - z[target]; dz = (softmax(z) - onehot(target)) * grad_scale,
written over the logits in place; then dinp[chunk] = dz @ weight and dweight += dz^T @ inp[chunk].
The row kernel also finds the first argmax, for token accuracy. Losses are kept per token and
summed in token order (no atomics).
"""
import torch
import triton
import triton.language as tl

from gemm import gemm


@triton.jit
def _cross_entropy_rows(logits, loss, correct, target, V, grad_scale, BLOCK_V: tl.constexpr,
                        WITH_GRAD: tl.constexpr):
    row = tl.program_id(0)
    z_row = logits + row.to(tl.int64) * V
    y = tl.load(target + row)
    m = tl.full((), float("-inf"), tl.float32)
    s = tl.zeros((), tl.float32)
    best = tl.full((), float("-inf"), tl.float32)
    best_at = tl.zeros((), tl.int32)
    for v0 in range(0, V, BLOCK_V):
        cols = v0 + tl.arange(0, BLOCK_V)
        z = tl.load(z_row + cols, mask=cols < V, other=float("-inf"))
        bm = tl.max(z, axis=0)
        # the first index of the block's maximum, kept only when strictly above the earlier blocks'
        at = tl.min(tl.where(z == bm, cols, V), axis=0)
        best_at = tl.where(bm > best, at, best_at)
        best = tl.maximum(best, bm)
        m_new = tl.maximum(m, bm)
        s = s * tl.exp(m - m_new) + tl.sum(tl.exp(z - m_new), axis=0)
        m = m_new
    lse = m + tl.log(s)
    scored = y != -100
    zy = tl.load(z_row + tl.where(scored, y, 0))
    tl.store(loss + row, tl.where(scored, lse - zy, 0.0))
    tl.store(correct + row, (scored & (best_at == y)).to(tl.int32))
    if WITH_GRAD:
        scale = tl.where(scored, grad_scale, 0.0)
        for v0 in range(0, V, BLOCK_V):
            cols = v0 + tl.arange(0, BLOCK_V)
            mask = cols < V
            z = tl.load(z_row + cols, mask=mask, other=0.0)
            dz = (tl.exp(z - lse) - tl.where(cols == y, 1.0, 0.0)) * scale
            tl.store(z_row + cols, dz, mask=mask)


@triton.jit
def _sum_rows_in_order(out, x, n):
    acc = tl.load(x).to(tl.float64)
    for i in range(1, n):
        acc += tl.load(x + i).to(tl.float64)
    tl.store(out, acc)


# Tokens per chunk: the fp32 logits scratch is CHUNK x V (256 x 151936 x 4 B = 156 MB for Qwen).
CHUNK = 256
BLOCK_V = 1024


def _run(dinp, dweight, inp, weight, target, grad_scale, with_grad):
    N, C = inp.shape
    V = weight.shape[0]
    assert weight.shape == (V, C) and target.shape == (N,)
    loss = inp.new_empty(N, dtype=torch.float32)
    correct = inp.new_empty(N, dtype=torch.int32)
    chunk = min(CHUNK, N)
    logits = inp.new_empty((chunk, V), dtype=torch.float32)
    for t0 in range(0, N, chunk):
        t1 = min(N, t0 + chunk)
        z = logits[: t1 - t0]
        gemm(z, inp[t0:t1], weight.t())
        _cross_entropy_rows[(t1 - t0,)](z, loss[t0:t1], correct[t0:t1], target[t0:t1], V, grad_scale,
                                        BLOCK_V=BLOCK_V, WITH_GRAD=with_grad)
        if with_grad:
            gemm(dinp[t0:t1], z, weight)
            gemm(dweight, z.t(), inp[t0:t1], accumulate=True)
    total = inp.new_empty(1, dtype=torch.float64)
    _sum_rows_in_order[(1,)](total, loss, N)
    return total, correct


def fused_linear_cross_entropy(dinp, dweight, inp, weight, target, grad_scale):
    """inp (N, C), weight (V, C), target (N) int32. Returns the sum of token losses (1, fp64).
    dinp (N, C) is written and dweight (V, C) accumulated, both as grad_scale * d(sum of losses)."""
    return _run(dinp, dweight, inp, weight, target, grad_scale, True)[0]


def linear_cross_entropy_loss(inp, weight, target):
    """Forward only: (sum of token losses (1, fp64), tokens whose target is the first argmax)."""
    total, correct = _run(None, None, inp, weight, target, 1.0, False)
    count = inp.new_empty(1, dtype=torch.float64)
    _sum_rows_in_order[(1,)](count, correct, correct.numel())
    return total, count
