// Elementwise updates of the residual stream and the gradients, partitioned over elements (so
// independent of the thread count).
#pragma once
#include <cstdint>

// out (n) += inp (n)
void add_inplace(float* out, const float* inp, int64_t n);
// x (n) *= s
void scale_inplace(float* x, float s, int64_t n);
