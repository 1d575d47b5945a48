#include "cpu/attention.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "cpu/gemm.h"
#include "cpu/parallel.h"
#include "cpu/vexp.h"

// Per document and head, queries go in blocks of kBlock rows against all keys up to the block's last row:
// S = Q_blk K^T (GEMM), causal mask, exact row softmax, O_blk = P V (GEMM). Scratch is kBlock x T, so long
// documents stay cheap in memory; the backward recomputes P from the saved lse (FlashAttention-2's
// recomputation, Dao 2023) instead of storing it.
namespace {

constexpr int kBlock = 64;

}  // namespace

void attention_forward(float* out, float* lse, const float* q, const float* k, const float* v,
                       const int32_t* cu_seqlens, int ndocs, int N, int H, int KVH, int D) {
  (void)N;
  const int group = H / KVH;
  const float scale = 1.0f / std::sqrt(static_cast<float>(D));
  const int64_t ldq = static_cast<int64_t>(H) * D, ldk = static_cast<int64_t>(KVH) * D;
  // Items are (document, query head): each writes its own out and lse rows.
  parallel_for(static_cast<int64_t>(ndocs) * H, [&](int64_t w0, int64_t w1) {
    std::vector<float> S;
    for (int64_t w = w0; w < w1; w++) {
      const int doc = static_cast<int>(w / H), h = static_cast<int>(w % H), kvh = h / group;
      const int s = cu_seqlens[doc], T = cu_seqlens[doc + 1] - s;
      const float* Q = q + s * ldq + h * D;  // (T,D), row stride ldq
      const float* K = k + s * ldk + kvh * D;
      const float* V = v + s * ldk + kvh * D;
      float* O = out + s * ldq + h * D;
      S.resize(static_cast<size_t>(kBlock) * T);
      for (int i0 = 0; i0 < T; i0 += kBlock) {
        const int rows = std::min(kBlock, T - i0), keys = i0 + rows;
        // S(rows,keys) = Q_blk @ K^T
        sgemm(rows, keys, D, Q + i0 * ldq, ldq, 1, K, 1, ldk, S.data(), keys, false);
        for (int r = 0; r < rows; r++) {
          float* row = S.data() + static_cast<int64_t>(r) * keys;
          const int valid = i0 + r + 1;
          for (int j = 0; j < valid; j++) row[j] *= scale;
          const float m = max_of(row, valid);
          const float sum = exp_shift_sum(row, valid, m);
          const float inv = 1.0f / sum;
          for (int j = 0; j < valid; j++) row[j] *= inv;
          std::fill(row + valid, row + keys, 0.0f);
          lse[static_cast<int64_t>(s + i0 + r) * H + h] = m + std::log(sum);
        }
        // O_blk(rows,D) = P @ V
        sgemm(rows, D, keys, S.data(), keys, 1, V, ldk, 1, O + i0 * ldq, ldq, false);
      }
    }
  });
}

// With P = exp(scale QK^T - lse), dP = dO V^T, Delta_i = dO_i . O_i, dS = P * (dP - Delta):
//   dV = P^T dO,  dQ = scale dS K,  dK = scale dS^T Q
void attention_backward(float* dq, float* dk, float* dv, const float* dout, const float* q, const float* k,
                        const float* v, const float* out, const float* lse, const int32_t* cu_seqlens, int ndocs,
                        int N, int H, int KVH, int D) {
  (void)N;
  const int group = H / KVH;
  const float scale = 1.0f / std::sqrt(static_cast<float>(D));
  const int64_t ldq = static_cast<int64_t>(H) * D, ldk = static_cast<int64_t>(KVH) * D;
  // Items are (document, kv head): each owns its dk/dv rows and the dq rows of its query heads, summed over
  // heads and blocks in a fixed order.
  parallel_for(static_cast<int64_t>(ndocs) * KVH, [&](int64_t w0, int64_t w1) {
    std::vector<float> P, dP, delta;
    for (int64_t w = w0; w < w1; w++) {
      const int doc = static_cast<int>(w / KVH), kvh = static_cast<int>(w % KVH);
      const int s = cu_seqlens[doc], T = cu_seqlens[doc + 1] - s;
      const float* K = k + s * ldk + kvh * D;
      const float* V = v + s * ldk + kvh * D;
      float* dK = dk + s * ldk + kvh * D;
      float* dV = dv + s * ldk + kvh * D;
      for (int j = 0; j < T; j++) {
        std::memset(dK + j * ldk, 0, sizeof(float) * D);
        std::memset(dV + j * ldk, 0, sizeof(float) * D);
      }
      P.resize(static_cast<size_t>(kBlock) * T);
      dP.resize(static_cast<size_t>(kBlock) * T);
      delta.resize(kBlock);
      for (int h = kvh * group; h < (kvh + 1) * group; h++) {
        const float* Q = q + s * ldq + h * D;
        const float* dO = dout + s * ldq + h * D;
        const float* O = out + s * ldq + h * D;
        float* dQ = dq + s * ldq + h * D;
        for (int i0 = 0; i0 < T; i0 += kBlock) {
          const int rows = std::min(kBlock, T - i0), keys = i0 + rows;
          sgemm(rows, keys, D, Q + i0 * ldq, ldq, 1, K, 1, ldk, P.data(), keys, false);
          sgemm(rows, keys, D, dO + i0 * ldq, ldq, 1, V, 1, ldk, dP.data(), keys, false);
          for (int r = 0; r < rows; r++) {
            const int i = i0 + r, valid = i + 1;
            const float* o = O + i * ldq;
            const float* g = dO + i * ldq;
            float d = 0.0f;
            for (int c = 0; c < D; c++) d += g[c] * o[c];
            const float l = lse[static_cast<int64_t>(s + i) * H + h];
            float* p = P.data() + static_cast<int64_t>(r) * keys;
            float* dp = dP.data() + static_cast<int64_t>(r) * keys;
            for (int j = 0; j < valid; j++) p[j] = p[j] * scale;
            exp_shift_sum(p, valid, l);
            for (int j = 0; j < valid; j++) dp[j] = p[j] * (dp[j] - d) * scale;
            std::fill(p + valid, p + keys, 0.0f);
            std::fill(dp + valid, dp + keys, 0.0f);
          }
          // dQ_blk(rows,D) = dS K;  dK(keys,D) += dS^T Q_blk;  dV(keys,D) += P^T dO_blk
          sgemm(rows, D, keys, dP.data(), keys, 1, K, ldk, 1, dQ + i0 * ldq, ldq, false);
          sgemm(keys, D, rows, dP.data(), 1, keys, Q + i0 * ldq, ldq, 1, dK, ldk, true);
          sgemm(keys, D, rows, P.data(), 1, keys, dO + i0 * ldq, ldq, 1, dV, ldk, true);
        }
      }
    }
  });
}

void attention_decode(float* out, const float* q, const float* kc, const float* vc, int T, int H, int KVH, int D) {
  const float scale = 1.0f / std::sqrt(static_cast<float>(D));
  const int group = H / KVH;
  std::vector<float> scores(T);  // (T)
  for (int h = 0; h < H; h++) {
    const float* qh = q + h * D;
    const int kvh = h / group;
    float maxs = -INFINITY;
    for (int j = 0; j < T; j++) {
      const float* kj = kc + (static_cast<int64_t>(j) * KVH + kvh) * D;
      float s = 0;
      for (int d = 0; d < D; d++) s += qh[d] * kj[d];
      scores[j] = s * scale;
      maxs = std::max(maxs, scores[j]);
    }
    float sum = 0;
    for (int j = 0; j < T; j++) sum += scores[j] = std::exp(scores[j] - maxs);
    float* oh = out + h * D;
    std::fill(oh, oh + D, 0.0f);
    for (int j = 0; j < T; j++) {
      const float w = scores[j] / sum;
      const float* vj = vc + (static_cast<int64_t>(j) * KVH + kvh) * D;
      for (int d = 0; d < D; d++) oh[d] += w * vj[d];
    }
  }
}
