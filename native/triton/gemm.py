"""C(M, N) = (accumulate ? C : 0) + A(M, K) @ B(K, N) (+ bias(N)), any strides, fp32 accumulation:
the tiled GEMM every linear layer, the fused cross-entropy and nothing else calls, so the NVIDIA
driver is the only run-time dependency (no cuBLAS). One program per (BLOCK_M, BLOCK_N) tile of C,
K in BLOCK_K steps in ascending order: every C element sums its products in an order fixed by K
and the block sizes, never by scheduling."""
import triton
import triton.language as tl


@triton.jit
def _gemm(c, a, b, bias, M, N, K, stride_am, stride_ak, stride_bk, stride_bn, stride_cm,
          BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr, ACCUMULATE: tl.constexpr,
          HAS_BIAS: tl.constexpr):
    rm = tl.program_id(0) * BLOCK_M + tl.arange(0, BLOCK_M)
    rn = tl.program_id(1) * BLOCK_N + tl.arange(0, BLOCK_N)
    rk = tl.arange(0, BLOCK_K)
    acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.float32)
    for k0 in range(0, K, BLOCK_K):
        ka = k0 + rk
        at = tl.load(a + rm[:, None].to(tl.int64) * stride_am + ka[None, :] * stride_ak,
                     mask=(rm[:, None] < M) & (ka[None, :] < K), other=0.0)
        bt = tl.load(b + ka[:, None] * stride_bk + rn[None, :].to(tl.int64) * stride_bn,
                     mask=(ka[:, None] < K) & (rn[None, :] < N), other=0.0)
        # an fp32 A (the cross-entropy's logit gradients) meets bf16 weights in B's dtype, as Liger does
        acc = tl.dot(at.to(bt.dtype), bt, acc)
    if HAS_BIAS:
        acc += tl.load(bias + rn, mask=rn < N, other=0.0).to(tl.float32)[None, :]
    mask = (rm[:, None] < M) & (rn[None, :] < N)
    ptrs = c + rm[:, None].to(tl.int64) * stride_cm + rn[None, :]
    if ACCUMULATE:
        acc += tl.load(ptrs, mask=mask, other=0.0).to(tl.float32)
    tl.store(ptrs, acc.to(c.dtype.element_ty), mask=mask)


# 64 x 64 x 32 tiles: a starting point until swept on the device (bench/train-gpu).
BLOCK_M, BLOCK_N, BLOCK_K = 64, 64, 32


def gemm(c, a, b, accumulate=False, bias=None):
    """c (M, N) row-major; a (M, K) and b (K, N) as views with any strides (a transposed weight is b = w.T)."""
    M, K = a.shape
    K2, N = b.shape
    assert K == K2 and c.shape == (M, N) and c.stride(1) == 1
    grid = (triton.cdiv(M, BLOCK_M), triton.cdiv(N, BLOCK_N))
    _gemm[grid](c, a, b, c if bias is None else bias, M, N, K, a.stride(0), a.stride(1), b.stride(0), b.stride(1),
                c.stride(0), BLOCK_M=BLOCK_M, BLOCK_N=BLOCK_N, BLOCK_K=BLOCK_K, ACCUMULATE=accumulate,
                HAS_BIAS=bias is not None)
