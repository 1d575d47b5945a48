// Vectorised exp for the softmaxes of attention and cross-entropy. Cephes' expf: n = round(x log2 e),
// r = x - n ln 2 (ln 2 split in two for exactness), exp(r) by a degree-6 polynomial, times 2^n.
// Relative error about 1e-7 over the clamped range [-87.3, 88.4]; below it the result flushes towards 0.
// exp256 is 8 lanes of AVX2, exp_lane the same computation on one float (see simd.h).
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>

#include "cpu/simd.h"

namespace vexp {
constexpr float kHi = 88.3762626647949f, kLo = -87.3365447504019f, kLog2e = 1.44269504088896341f;
constexpr float kLn2Hi = 0.693359375f, kLn2Lo = -2.12194440e-4f;
constexpr float kP0 = 1.9875691500e-4f, kP1 = 1.3981999507e-3f, kP2 = 8.3334519073e-3f, kP3 = 4.1665795894e-2f,
                kP4 = 1.6666665459e-1f, kP5 = 5.0000001201e-1f;
}  // namespace vexp

// The operand order of minps/maxps (the second operand when the comparison fails), kept so NaNs and
// signed zeros come out as on the vector path.
inline float min_lane(float a, float b) { return a < b ? a : b; }
inline float max_lane(float a, float b) { return a > b ? a : b; }

inline float exp_lane(float x) {
  using namespace vexp;
  x = max_lane(min_lane(x, kHi), kLo);
  const float n = std::nearbyint(x * kLog2e);
  x = std::fma(-n, kLn2Hi, x);
  x = std::fma(-n, kLn2Lo, x);
  float y = kP0;
  y = std::fma(y, x, kP1);
  y = std::fma(y, x, kP2);
  y = std::fma(y, x, kP3);
  y = std::fma(y, x, kP4);
  y = std::fma(y, x, kP5);
  y = std::fma(y, x * x, x + 1.0f);
  const uint32_t bits = static_cast<uint32_t>(static_cast<int32_t>(n) + 127) << 23;
  float scale;
  std::memcpy(&scale, &bits, sizeof scale);
  return y * scale;
}

#if SFT_AVX2
inline __m256 exp256(__m256 x) {
  using namespace vexp;
  x = _mm256_min_ps(x, _mm256_set1_ps(kHi));
  x = _mm256_max_ps(x, _mm256_set1_ps(kLo));
  __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(kLog2e)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  x = _mm256_fnmadd_ps(n, _mm256_set1_ps(kLn2Hi), x);
  x = _mm256_fnmadd_ps(n, _mm256_set1_ps(kLn2Lo), x);
  __m256 y = _mm256_set1_ps(kP0);
  y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(kP1));
  y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(kP2));
  y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(kP3));
  y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(kP4));
  y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(kP5));
  y = _mm256_fmadd_ps(y, _mm256_mul_ps(x, x), _mm256_add_ps(x, _mm256_set1_ps(1.0f)));
  __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
  return _mm256_mul_ps(y, _mm256_castsi256_ps(e));
}
#endif

// x[i] = exp(x[i] - shift) for i < n; returns the sum of the results, accumulated in 8 float lanes (fixed order).
inline float exp_shift_sum(float* x, int64_t n, float shift) {
  alignas(32) float lanes[8] = {};
  int64_t i = 0;
#if SFT_AVX2
  __m256 s = _mm256_set1_ps(shift), acc = _mm256_setzero_ps();
  for (; i + 8 <= n; i += 8) {
    __m256 e = exp256(_mm256_sub_ps(_mm256_loadu_ps(x + i), s));
    _mm256_storeu_ps(x + i, e);
    acc = _mm256_add_ps(acc, e);
  }
  _mm256_store_ps(lanes, acc);
#else
  for (; i + 8 <= n; i += 8)
    for (int l = 0; l < 8; l++) lanes[l] += x[i + l] = exp_lane(x[i + l] - shift);
#endif
  float tail = 0.0f;
  for (; i < n; i++) {
    x[i] = std::exp(x[i] - shift);
    tail += x[i];
  }
  return ((lanes[0] + lanes[1]) + (lanes[2] + lanes[3])) + ((lanes[4] + lanes[5]) + (lanes[6] + lanes[7])) + tail;
}

// max of x[0..n), n >= 1
inline float max_of(const float* x, int64_t n) {
  alignas(32) float lanes[8] = {-INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY};
  int64_t i = 0;
#if SFT_AVX2
  __m256 m = _mm256_set1_ps(-INFINITY);
  for (; i + 8 <= n; i += 8) m = _mm256_max_ps(m, _mm256_loadu_ps(x + i));
  _mm256_store_ps(lanes, m);
#else
  for (; i + 8 <= n; i += 8)
    for (int l = 0; l < 8; l++) lanes[l] = max_lane(lanes[l], x[i + l]);
#endif
  float r = -INFINITY;
  for (float l : lanes) r = l > r ? l : r;
  for (; i < n; i++) r = x[i] > r ? x[i] : r;
  return r;
}
