#include "cpu/rope.h"

#include <cmath>
#include <vector>

#include "cpu/parallel.h"

namespace {

// sign = +1 applies the rotation, -1 its transpose (the backward).
void rope_apply(float* out, const float* inp, const int32_t* pos, const float* inv_freq, float attention_scaling,
                int N, int NH, int D, float sign) {
  int half = D / 2;
  parallel_for(N, [&](int64_t begin, int64_t end) {
    std::vector<float> cs(half), sn(half);
    for (int64_t t = begin; t < end; t++) {
      // Same float steps as transformers: angle = float(pos) * inv_freq in fp32, then cos/sin, then scaling.
      float p = static_cast<float>(pos[t]);
      for (int i = 0; i < half; i++) {
        float a = p * inv_freq[i];
        cs[i] = std::cos(a) * attention_scaling;
        sn[i] = sign * (std::sin(a) * attention_scaling);
      }
      for (int h = 0; h < NH; h++) {
        const float* x = inp + (t * NH + h) * D;
        float* o = out + (t * NH + h) * D;
        for (int i = 0; i < half; i++) {
          float x1 = x[i], x2 = x[i + half];
          o[i] = x1 * cs[i] - x2 * sn[i];
          o[i + half] = x2 * cs[i] + x1 * sn[i];
        }
      }
    }
  });
}

}  // namespace

void rope_forward(float* out, const float* inp, const int32_t* pos, const float* inv_freq, float attention_scaling,
                  int N, int NH, int D) {
  rope_apply(out, inp, pos, inv_freq, attention_scaling, N, NH, D, 1.0f);
}

void rope_backward(float* dinp, const float* dout, const int32_t* pos, const float* inv_freq, float attention_scaling,
                   int N, int NH, int D) {
  rope_apply(dinp, dout, pos, inv_freq, attention_scaling, N, NH, D, -1.0f);
}
