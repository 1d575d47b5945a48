#include "cpu/embedding.h"

#include <cstring>

#include "cpu/parallel.h"

void embedding_forward(float* out, const int32_t* ids, const float* wte, int N, int C) {
  parallel_for(N, [&](int64_t begin, int64_t end) {
    for (int64_t t = begin; t < end; t++) std::memcpy(out + t * C, wte + static_cast<int64_t>(ids[t]) * C, sizeof(float) * C);
  });
}

void embedding_backward(float* dwte, const float* dout, const int32_t* ids, int N, int C) {
  // Partitioned over channels so each dwte element sums its tokens in token order on one thread.
  parallel_for(C, [&](int64_t c0, int64_t c1) {
    for (int t = 0; t < N; t++) {
      float* row = dwte + static_cast<int64_t>(ids[t]) * C;
      const float* g = dout + static_cast<int64_t>(t) * C;
      for (int64_t c = c0; c < c1; c++) row[c] += g[c];
    }
  });
}
