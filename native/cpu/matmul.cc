#include "cpu/matmul.h"

#include <cstdint>

#include "cpu/gemm.h"
#include "cpu/parallel.h"

void matmul_forward(float* out, const float* inp, const float* weight, const float* bias, int N, int C, int OC) {
  if (bias != nullptr) {
    parallel_for(N, [&](int64_t t0, int64_t t1) {
      for (int64_t t = t0; t < t1; t++)
        for (int o = 0; o < OC; o++) out[t * OC + o] = bias[o];
    });
  }
  // out(N,OC) (+)= inp(N,C) @ weight^T, weight^T(c,o) = weight[o*C + c]
  sgemm(N, OC, C, inp, C, 1, weight, 1, C, out, OC, bias != nullptr);
}

void matmul_backward(float* dinp, float* dweight, float* dbias, const float* dout, const float* inp,
                     const float* weight, int N, int C, int OC, bool accumulate) {
  // dinp(N,C) (+)= dout(N,OC) @ weight(OC,C)
  if (dinp != nullptr) sgemm(N, C, OC, dout, OC, 1, weight, C, 1, dinp, C, accumulate);
  // dweight(OC,C) += dout^T(OC,N) @ inp(N,C), dout^T(o,t) = dout[t*OC + o]
  sgemm(OC, C, N, dout, 1, OC, inp, C, 1, dweight, C, true);
  if (dbias != nullptr) {
    // Partitioned over outputs; each sums its tokens in token order.
    parallel_for(OC, [&](int64_t o0, int64_t o1) {
      for (int t = 0; t < N; t++)
        for (int64_t o = o0; o < o1; o++) dbias[o] += dout[static_cast<int64_t>(t) * OC + o];
    });
  }
}
