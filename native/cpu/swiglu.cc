#include "cpu/swiglu.h"

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "cpu/parallel.h"
#include "cpu/vexp.h"

namespace {

// sigmoid(g) = 1 / (1 + exp(-g)): exp256 on 8 lanes, exp_lane for the scalar build's whole 8-lane groups
// (the same bits), std::exp for the tail past the last whole group.
#if SFT_AVX2
inline __m256 sigmoid256(__m256 g) {
  const __m256 one = _mm256_set1_ps(1.0f);
  return _mm256_div_ps(one, _mm256_add_ps(one, exp256(_mm256_sub_ps(_mm256_setzero_ps(), g))));
}
#endif

inline float sigmoid_lane(float g) { return 1.0f / (1.0f + exp_lane(0.0f - g)); }

inline float sigmoid(float g) { return 1.0f / (1.0f + std::exp(-g)); }

}  // namespace

void swiglu_forward(float* out, const float* gate, const float* up, int N, int F) {
  const int64_t n = static_cast<int64_t>(N) * F;
  // Partitioned in whole 8-lane groups so an element takes the same (vector or scalar) path for any thread count.
  parallel_for((n + 7) / 8, [&](int64_t b0, int64_t b1) {
    int64_t i = b0 * 8;
    const int64_t end = std::min(n, b1 * 8);
#if SFT_AVX2
    for (; i + 8 <= end; i += 8) {
      __m256 g = _mm256_loadu_ps(gate + i);
      _mm256_storeu_ps(out + i, _mm256_mul_ps(_mm256_mul_ps(g, sigmoid256(g)), _mm256_loadu_ps(up + i)));
    }
#else
    for (const int64_t whole = i + (end - i) / 8 * 8; i < whole; i++) out[i] = gate[i] * sigmoid_lane(gate[i]) * up[i];
#endif
    for (; i < end; i++) out[i] = gate[i] * sigmoid(gate[i]) * up[i];
  });
}

// d silu(g)/dg = s * (1 + g * (1 - s)) with s = sigmoid(g)
void swiglu_backward(float* dgate, float* dup, const float* dout, const float* gate, const float* up, int N, int F) {
  const int64_t n = static_cast<int64_t>(N) * F;
  parallel_for((n + 7) / 8, [&](int64_t b0, int64_t b1) {
    int64_t i = b0 * 8;
    const int64_t end = std::min(n, b1 * 8);
#if SFT_AVX2
    const __m256 one = _mm256_set1_ps(1.0f);
    for (; i + 8 <= end; i += 8) {
      __m256 g = _mm256_loadu_ps(gate + i);
      __m256 s = sigmoid256(g);
      __m256 d = _mm256_loadu_ps(dout + i);
      _mm256_storeu_ps(dup + i, _mm256_mul_ps(d, _mm256_mul_ps(g, s)));
      __m256 dsilu = _mm256_mul_ps(s, _mm256_add_ps(one, _mm256_mul_ps(g, _mm256_sub_ps(one, s))));
      _mm256_storeu_ps(dgate + i, _mm256_mul_ps(_mm256_mul_ps(d, _mm256_loadu_ps(up + i)), dsilu));
    }
#else
    for (const int64_t whole = i + (end - i) / 8 * 8; i < whole; i++) {
      float g = gate[i], s = sigmoid_lane(g), d = dout[i];
      dup[i] = d * (g * s);
      dgate[i] = d * up[i] * (s * (1.0f + g * (1.0f - s)));
    }
#endif
    for (; i < end; i++) {
      float g = gate[i], s = sigmoid(g), d = dout[i];
      dup[i] = d * (g * s);
      dgate[i] = d * up[i] * (s * (1.0f + g * (1.0f - s)));
    }
  });
}
