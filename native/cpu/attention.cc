#include "cpu/attention.h"

#include <cmath>
#include <cstring>
#include <vector>

#include "cpu/parallel.h"

// Work items are (document, kv head) pairs: each owns its dk/dv rows and the dq rows of its query heads,
// so no two threads write the same element and every sum has a fixed order.

void attention_forward(float* out, float* lse, const float* q, const float* k, const float* v,
                       const int32_t* cu_seqlens, int ndocs, int N, int H, int KVH, int D) {
  (void)N;
  int group = H / KVH;
  float scale = 1.0f / std::sqrt(static_cast<float>(D));
  parallel_for(static_cast<int64_t>(ndocs) * KVH, [&](int64_t w0, int64_t w1) {
    std::vector<float> p;
    for (int64_t w = w0; w < w1; w++) {
      int doc = static_cast<int>(w / KVH), kvh = static_cast<int>(w % KVH);
      int s = cu_seqlens[doc], T = cu_seqlens[doc + 1] - s;
      p.resize(T);
      for (int h = kvh * group; h < (kvh + 1) * group; h++) {
        for (int i = 0; i < T; i++) {
          const float* qi = q + (static_cast<int64_t>(s + i) * H + h) * D;
          float m = -INFINITY;
          for (int j = 0; j <= i; j++) {
            const float* kj = k + (static_cast<int64_t>(s + j) * KVH + kvh) * D;
            float dot = 0.0f;
            for (int d = 0; d < D; d++) dot += qi[d] * kj[d];
            p[j] = dot * scale;
            if (p[j] > m) m = p[j];
          }
          float sum = 0.0f;
          for (int j = 0; j <= i; j++) {
            p[j] = std::exp(p[j] - m);
            sum += p[j];
          }
          float* oi = out + (static_cast<int64_t>(s + i) * H + h) * D;
          std::memset(oi, 0, sizeof(float) * D);
          for (int j = 0; j <= i; j++) {
            const float* vj = v + (static_cast<int64_t>(s + j) * KVH + kvh) * D;
            for (int d = 0; d < D; d++) oi[d] += p[j] * vj[d];
          }
          float inv = 1.0f / sum;
          for (int d = 0; d < D; d++) oi[d] *= inv;
          lse[static_cast<int64_t>(s + i) * H + h] = m + std::log(sum);
        }
      }
    }
  });
}

// With P = exp(S - lse), dP = dout V^T, Delta_i = dout_i . out_i, dS = P * (dP - Delta):
//   dV = P^T dout,  dQ = scale * dS K,  dK = scale * dS^T Q
void attention_backward(float* dq, float* dk, float* dv, const float* dout, const float* q, const float* k,
                        const float* v, const float* out, const float* lse, const int32_t* cu_seqlens, int ndocs,
                        int N, int H, int KVH, int D) {
  (void)N;
  int group = H / KVH;
  float scale = 1.0f / std::sqrt(static_cast<float>(D));
  parallel_for(static_cast<int64_t>(ndocs) * KVH, [&](int64_t w0, int64_t w1) {
    std::vector<float> p;
    for (int64_t w = w0; w < w1; w++) {
      int doc = static_cast<int>(w / KVH), kvh = static_cast<int>(w % KVH);
      int s = cu_seqlens[doc], T = cu_seqlens[doc + 1] - s;
      p.resize(T);
      for (int j = 0; j < T; j++) {
        std::memset(dk + (static_cast<int64_t>(s + j) * KVH + kvh) * D, 0, sizeof(float) * D);
        std::memset(dv + (static_cast<int64_t>(s + j) * KVH + kvh) * D, 0, sizeof(float) * D);
      }
      for (int h = kvh * group; h < (kvh + 1) * group; h++) {
        for (int i = 0; i < T; i++) {
          int64_t row = static_cast<int64_t>(s + i) * H + h;
          const float* qi = q + row * D;
          const float* gi = dout + row * D;
          const float* oi = out + row * D;
          float* dqi = dq + row * D;
          float l = lse[row];
          float delta = 0.0f;
          for (int d = 0; d < D; d++) delta += gi[d] * oi[d];
          std::memset(dqi, 0, sizeof(float) * D);
          for (int j = 0; j <= i; j++) {
            int64_t kv = (static_cast<int64_t>(s + j) * KVH + kvh) * D;
            const float* kj = k + kv;
            const float* vj = v + kv;
            float dot = 0.0f;
            for (int d = 0; d < D; d++) dot += qi[d] * kj[d];
            float pj = std::exp(dot * scale - l);
            float dp = 0.0f;
            for (int d = 0; d < D; d++) dp += gi[d] * vj[d];
            float ds = pj * (dp - delta) * scale;
            for (int d = 0; d < D; d++) {
              dv[kv + d] += pj * gi[d];
              dqi[d] += ds * kj[d];
              dk[kv + d] += ds * qi[d];
            }
          }
        }
      }
    }
  });
}
