// Single-precision GEMM shared by matmul, the fused cross-entropy and attention.
//
//   C(M,N) = (accumulate ? C : 0) + A(M,K) @ B(K,N)
//   A(i,k) = A[i*rsa + k*csa],  B(k,j) = B[k*rsb + j*csb],  C(i,j) = C[i*ldc + j]
//
// Strides let callers pass transposed operands without copies (packing absorbs them).
// Every C element sums its K products in a fixed order that depends only on K, never on the thread count
// or on how M and N are split. Parallel over output tiles; serial when called from inside a parallel_for.
#pragma once
#include <cstdint>

void sgemm(int M, int N, int K, const float* A, int64_t rsa, int64_t csa, const float* B, int64_t rsb, int64_t csb,
           float* C, int64_t ldc, bool accumulate);

// The reference: a plain triple loop, k innermost in ascending order.
void sgemm_naive(int M, int N, int K, const float* A, int64_t rsa, int64_t csa, const float* B, int64_t rsb,
                 int64_t csb, float* C, int64_t ldc, bool accumulate);
