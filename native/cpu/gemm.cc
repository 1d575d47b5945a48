#include "cpu/gemm.h"

#include "cpu/parallel.h"

void sgemm_naive(int M, int N, int K, const float* A, int64_t rsa, int64_t csa, const float* B, int64_t rsb,
                 int64_t csb, float* C, int64_t ldc, bool accumulate) {
  parallel_for(M, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; i++)
      for (int64_t j = 0; j < N; j++) {
        float acc = 0.0f;
        for (int64_t k = 0; k < K; k++) acc += A[i * rsa + k * csa] * B[k * rsb + j * csb];
        C[i * ldc + j] = accumulate ? C[i * ldc + j] + acc : acc;
      }
  });
}

void sgemm(int M, int N, int K, const float* A, int64_t rsa, int64_t csa, const float* B, int64_t rsb, int64_t csb,
           float* C, int64_t ldc, bool accumulate) {
  sgemm_naive(M, N, K, A, rsa, csa, B, rsb, csb, C, ldc, accumulate);
}
