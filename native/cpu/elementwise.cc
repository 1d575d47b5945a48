#include "cpu/elementwise.h"

#include "cpu/parallel.h"

void add_inplace(float* out, const float* inp, int64_t n) {
  parallel_for(n, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; i++) out[i] += inp[i];
  });
}

void scale_inplace(float* x, float s, int64_t n) {
  parallel_for(n, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; i++) x[i] *= s;
  });
}
