"""Reference for sgemm: C = (accumulate ? C0 : 0) + A @ B with A, B given in either storage order."""
import torch
from oracle_io import serve


def compute(case):
    M, N, K = case["M"], case["N"], case["K"]
    a = torch.randn(M, K)
    b = torch.randn(K, N)
    c0 = torch.randn(M, N)
    # Stored as the kernel reads them: a transposed operand is stored as its transpose, row-major.
    a_store = a.t().contiguous() if case["transA"] else a
    b_store = b.t().contiguous() if case["transB"] else b
    expected = (c0 if case["accumulate"] else torch.zeros(M, N)) + a @ b
    return dict(a=a_store, b=b_store, c0=c0, expected=expected)


serve(compute)
