#include "cpu/swiglu.h"

#include <cmath>
#include <cstdint>

#include "cpu/parallel.h"

void swiglu_forward(float* out, const float* gate, const float* up, int N, int F) {
  int64_t n = static_cast<int64_t>(N) * F;
  parallel_for(n, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; i++) {
      float g = gate[i];
      float s = 1.0f / (1.0f + std::exp(-g));
      out[i] = g * s * up[i];
    }
  });
}

// d silu(g)/dg = s * (1 + g * (1 - s)) with s = sigmoid(g)
void swiglu_backward(float* dgate, float* dup, const float* dout, const float* gate, const float* up, int N, int F) {
  int64_t n = static_cast<int64_t>(N) * F;
  parallel_for(n, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; i++) {
      float g = gate[i];
      float s = 1.0f / (1.0f + std::exp(-g));
      float d = dout[i];
      dup[i] = d * (g * s);
      dgate[i] = d * up[i] * (s * (1.0f + g * (1.0f - s)));
    }
  });
}
