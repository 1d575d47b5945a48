#include "cpu/adamw.h"

#include <cmath>
#include <vector>

#include "cpu/parallel.h"

// Follows torch's single-tensor AdamW step on fp32 tensors: scalars are formed in double (Python floats) and
// applied in float; m uses lerp (weight 1-beta1 < 0.5: m + w * (g - m)).
void adamw_update(float* param, float* m, float* v, const float* grad, int64_t n, double lr, double beta1,
                  double beta2, double eps, double weight_decay, float grad_scale, int step) {
  double bc1 = 1.0 - std::pow(beta1, step);
  double bc2 = 1.0 - std::pow(beta2, step);
  float decay = static_cast<float>(1.0 - lr * weight_decay);
  float w1 = static_cast<float>(1.0 - beta1);
  float b2 = static_cast<float>(beta2);
  float w2 = static_cast<float>(1.0 - beta2);
  float step_size = static_cast<float>(lr / bc1);
  float bc2_sqrt = static_cast<float>(std::sqrt(bc2));
  float epsf = static_cast<float>(eps);
  parallel_for(n, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; i++) {
      float g = grad[i] * grad_scale;
      float p = param[i] * decay;
      float mi = w1 < 0.5f ? m[i] + w1 * (g - m[i]) : g - (g - m[i]) * (1.0f - w1);
      float vi = v[i] * b2 + w2 * (g * g);
      float denom = std::sqrt(vi) / bc2_sqrt + epsf;
      m[i] = mi;
      v[i] = vi;
      param[i] = p - step_size * (mi / denom);
    }
  });
}

double sum_squares(const float* x, int64_t n) {
  // Block size is a constant, so the partial sums and their order do not depend on the thread count.
  const int64_t block = 4096;
  int64_t nblocks = (n + block - 1) / block;
  std::vector<double> partial(nblocks);
  parallel_for(nblocks, [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; b++) {
      double acc[4] = {0, 0, 0, 0};
      int64_t lo = b * block, hi = std::min(n, lo + block), i = lo;
      for (; i + 4 <= hi; i += 4)
        for (int j = 0; j < 4; j++) acc[j] += static_cast<double>(x[i + j]) * x[i + j];
      for (; i < hi; i++) acc[0] += static_cast<double>(x[i]) * x[i];
      partial[b] = (acc[0] + acc[1]) + (acc[2] + acc[3]);
    }
  });
  double total = 0.0;
  for (double p : partial) total += p;
  return total;
}
