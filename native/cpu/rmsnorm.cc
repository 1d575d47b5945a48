#include "cpu/rmsnorm.h"

#include <cmath>
#include <cstdint>
#include <vector>

#include "cpu/parallel.h"

void rmsnorm_forward(float* out, float* rstd, const float* inp, const float* weight, int N, int C, float eps) {
  parallel_for(N, [&](int64_t begin, int64_t end) {
    for (int64_t t = begin; t < end; t++) {
      const float* x = inp + t * C;
      float* o = out + t * C;
      double ss = 0.0;
      for (int c = 0; c < C; c++) ss += static_cast<double>(x[c]) * x[c];
      float r = 1.0f / std::sqrt(static_cast<float>(ss / C) + eps);
      rstd[t] = r;
      for (int c = 0; c < C; c++) o[c] = weight[c] * (x[c] * r);
    }
  });
}

// With g = dout * weight and xhat = x * rstd:
//   dinp (+)= rstd * (g - xhat * mean(g * xhat)),   dweight += sum_t dout * xhat
void rmsnorm_backward(float* dinp, float* dweight, const float* dout, const float* inp, const float* weight,
                      const float* rstd, int N, int C, bool accumulate) {
  parallel_for(N, [&](int64_t begin, int64_t end) {
    for (int64_t t = begin; t < end; t++) {
      const float* x = inp + t * C;
      const float* g = dout + t * C;
      float* dx = dinp + t * C;
      float r = rstd[t];
      double dot = 0.0;
      for (int c = 0; c < C; c++) dot += static_cast<double>(g[c] * weight[c]) * (x[c] * r);
      float m = static_cast<float>(dot / C);
      if (accumulate)
        for (int c = 0; c < C; c++) dx[c] += r * (g[c] * weight[c] - x[c] * r * m);
      else
        for (int c = 0; c < C; c++) dx[c] = r * (g[c] * weight[c] - x[c] * r * m);
    }
  });
  // Partitioned over channels: every dweight element sums its tokens in token order on one thread.
  parallel_for(C, [&](int64_t c0, int64_t c1) {
    for (int t = 0; t < N; t++) {
      const float* x = inp + static_cast<int64_t>(t) * C;
      const float* g = dout + static_cast<int64_t>(t) * C;
      float r = rstd[t];
      for (int64_t c = c0; c < c1; c++) dweight[c] += g[c] * (x[c] * r);
    }
  });
}
