"""AdamW with torch.optim.AdamW semantics (Loshchilov & Hutter 2019: decoupled weight decay,
bias-corrected moments) on fp32 master weights and moments, writing the model's parameters in
their own dtype (bf16 in mixed precision); and the global gradient norm's sum of squares.

    p = p * (1 - lr * wd);  m += (1 - b1) * (g - m);  v = b2 * v + (1 - b2) * g^2
    p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps),   g = grad * grad_scale

The host forms every coefficient in double and passes it as a 4-byte float, as the cpu kernel does
(1 - b2 formed from a float b2 is off by 1.3e-5). sum_squares adds BLOCK-element partials in fp64
and then the partials in order: no atomics, the same bits for any launch.
"""
import math

import triton
import triton.language as tl


@triton.jit
def _adamw_update(param, master, m, v, grad, n, decay, w1, b2, w2, step_size, bc2_sqrt, eps, grad_scale,
                  BLOCK: tl.constexpr):
    i = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = i < n
    g = tl.load(grad + i, mask=mask, other=0.0).to(tl.float32) * grad_scale
    p = tl.load(master + i, mask=mask, other=0.0) * decay
    mi = tl.load(m + i, mask=mask, other=0.0)
    mi = mi + w1 * (g - mi)
    vi = tl.load(v + i, mask=mask, other=0.0) * b2 + w2 * (g * g)
    p = p - step_size * (mi / (tl.sqrt(vi) / bc2_sqrt + eps))
    tl.store(m + i, mi, mask=mask)
    tl.store(v + i, vi, mask=mask)
    tl.store(master + i, p, mask=mask)
    tl.store(param + i, p.to(param.dtype.element_ty), mask=mask)


@triton.jit
def _sum_squares_partial(partial, x, n, BLOCK: tl.constexpr):
    pid = tl.program_id(0)
    i = pid * BLOCK + tl.arange(0, BLOCK)
    xi = tl.load(x + i, mask=i < n, other=0.0).to(tl.float64)
    tl.store(partial + pid, tl.sum(xi * xi, axis=0))


@triton.jit
def _sum_in_order(out, partial, P):
    acc = tl.load(partial)
    for j in range(1, P):
        acc += tl.load(partial + j)
    tl.store(out, acc)


BLOCK = 1024


def adamw_update(param, master, m, v, grad, lr, beta1, beta2, eps, weight_decay, grad_scale, step):
    """param (n) in the model dtype is written from master (n) fp32; m, v (n) fp32; grad (n); step 1-based."""
    n = master.numel()
    assert param.numel() == m.numel() == v.numel() == grad.numel() == n
    bc1 = 1.0 - beta1**step
    bc2 = 1.0 - beta2**step
    _adamw_update[(triton.cdiv(n, BLOCK),)](param, master, m, v, grad, n, 1.0 - lr * weight_decay, 1.0 - beta1,
                                            beta2, 1.0 - beta2, lr / bc1, math.sqrt(bc2), eps, grad_scale,
                                            BLOCK=BLOCK)


def sum_squares(out, x):
    """out (1) fp64 = sum of x^2 over x (n)."""
    n = x.numel()
    P = triton.cdiv(n, BLOCK)
    partial = out.new_empty(P)
    _sum_squares_partial[(P,)](partial, x, n, BLOCK=BLOCK)
    _sum_in_order[(1,)](out, partial, P)
