// Autoregressive decoding with a KV cache: the prompt is run as one batch through the training
// forward pass (its post-RoPE keys and values fill the cache), then each new token runs through the
// layers alone, attending over the cache. Shape key as in model.h; T is the cache length.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>

#include "cpu/embedding.h"
#include "cpu/matmul.h"
#include "cpu/model.h"
#include "cpu/rmsnorm.h"
#include "cpu/rope.h"
#include "cpu/swiglu.h"

// ----------------------------------------------------------------------------
// xoshiro256** (Blackman & Vigna), seeded through splitmix64 as its authors recommend

static uint64_t splitmix64(uint64_t& x) {
  uint64_t z = (x += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static uint64_t xoshiro_next(uint64_t* s) {
  const uint64_t result = rotl(s[1] * 5, 7) * 9;
  const uint64_t t = s[1] << 17;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = rotl(s[3], 45);
  return result;
}

// uniform in [0, 1) with 53 random bits
static double uniform(uint64_t* s) { return static_cast<double>(xoshiro_next(s) >> 11) * 0x1.0p-53; }

void Model::seed_rng(uint64_t seed) {
  for (auto& word : rng) word = splitmix64(seed);
}

// ----------------------------------------------------------------------------
// sampling

// logits (V). Greedy takes the first maximum (as torch.argmax does); otherwise softmax(logits /
// temperature), keep the most likely tokens until their mass reaches top_p (at least one), sample.
static int32_t pick_token(const float* logits, int V, float temperature, float top_p, uint64_t* rng) {
  if (temperature <= 0) return static_cast<int32_t>(std::max_element(logits, logits + V) - logits);
  const double maxl = *std::max_element(logits, logits + V);
  std::vector<double> prob(V);
  double total = 0;
  for (int i = 0; i < V; i++) total += prob[i] = std::exp((logits[i] - maxl) / temperature);
  std::vector<int32_t> order(V);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int32_t a, int32_t b) { return prob[a] > prob[b]; });
  int keep = 0;
  double mass = 0;
  while (keep < V && (keep == 0 || mass < top_p * total)) mass += prob[order[keep++]];
  double u = uniform(rng) * mass;
  for (int i = 0; i < keep; i++) {
    u -= prob[order[i]];
    if (u < 0) return order[i];
  }
  return order[keep - 1];
}

// ----------------------------------------------------------------------------
// one token through one layer

// Single-query attention over the cache rows 0..p: q (H,D), kc/vc (T,KVH,D), att (H,D), scores (p+1).
static void decode_attention(float* att, float* scores, const float* q, const float* kc, const float* vc, int p,
                             int H, int KVH, int D) {
  const float scale = 1.0f / std::sqrt(static_cast<float>(D));
  const int group = H / KVH;
  for (int h = 0; h < H; h++) {
    const float* qh = q + h * D;
    const int kvh = h / group;
    float maxs = -INFINITY;
    for (int j = 0; j <= p; j++) {
      const float* kj = kc + (static_cast<int64_t>(j) * KVH + kvh) * D;
      float s = 0;
      for (int d = 0; d < D; d++) s += qh[d] * kj[d];
      scores[j] = s * scale;
      maxs = std::max(maxs, scores[j]);
    }
    float sum = 0;
    for (int j = 0; j <= p; j++) sum += scores[j] = std::exp(scores[j] - maxs);
    float* out = att + h * D;
    std::fill(out, out + D, 0.0f);
    for (int j = 0; j <= p; j++) {
      const float w = scores[j] / sum;
      const float* vj = vc + (static_cast<int64_t>(j) * KVH + kvh) * D;
      for (int d = 0; d < D; d++) out[d] += w * vj[d];
    }
  }
}

std::vector<int32_t> Model::generate(const std::vector<int32_t>& prompt, int max_new, float temperature, float top_p,
                                     const std::vector<int32_t>& stop_tokens) {
  const int V = cfg_.V, C = cfg_.C, F = cfg_.F, L = cfg_.L, H = cfg_.H, KVH = cfg_.KVH, D = cfg_.D;
  const int QD = H * D, KD = KVH * D;
  const int P = static_cast<int>(prompt.size());
  const int T = P + max_new;
  std::vector<int32_t> out;
  if (max_new <= 0) return out;
  // kc, vc are (L, T, KVH, D)
  FloatBuffer kc = alloc_floats(static_cast<int64_t>(L) * T * KD);
  FloatBuffer vc = alloc_floats(static_cast<int64_t>(L) * T * KD);

  // prefill: the prompt as one document
  std::vector<int32_t> pos(P);
  std::iota(pos.begin(), pos.end(), 0);
  const int32_t cu[2] = {0, P};
  ensure_acts(P);
  const int64_t NC = res_stride_;
  embedding_forward(residual_, prompt.data(), p_.wte, P, C);
  for (int l = 0; l < L; l++) {
    LayerActs& a = acts_for(l);
    layer_forward(l, residual_ + (l + 1) * NC, a, residual_ + l * NC, pos.data(), cu, 1, P);
    std::memcpy(kc.get() + static_cast<int64_t>(l) * T * KD, a.k, sizeof(float) * P * KD);
    std::memcpy(vc.get() + static_cast<int64_t>(l) * T * KD, a.v, sizeof(float) * P * KD);
  }

  struct {
    float *ln, *rstd, *qraw, *kraw, *q, *k, *att, *scores, *mid, *gate, *up, *h;
  } b;
  FloatBuffer buf = alloc_floats(3 * C + H + 3 * QD + 2 * KD + T + 3 * F + V);
  float* base = buf.get();
  auto take = [&](int64_t n) {
    float* p = base;
    base += n;
    return p;
  };
  float* x = take(C);       // (C) the residual stream of the current token
  b.ln = take(C);           // (C)
  b.rstd = take(H);         // (H) rstd of one norm: 1 row (ln), H (q_norm) or KVH <= H (k_norm)
  b.qraw = take(QD);        // (H,D)
  b.kraw = take(KD);        // (KVH,D)
  b.q = take(QD);           // (H,D)
  b.k = take(KD);           // (KVH,D)
  b.att = take(QD);         // (H,D)
  b.scores = take(T);       // (T)
  b.mid = take(C);          // (C)
  b.gate = take(F);         // (F)
  b.up = take(F);           // (F)
  b.h = take(F);            // (F)
  float* logits = take(V);  // (V)

  std::memcpy(x, residual_ + L * NC + static_cast<int64_t>(P - 1) * C, sizeof(float) * C);
  for (int i = 0;; i++) {
    rmsnorm_forward(b.ln, b.rstd, x, p_.lnfw, 1, C, cfg_.eps);
    matmul_forward(logits, b.ln, p_.lm_head, nullptr, 1, C, V);
    const int32_t tok = pick_token(logits, V, temperature, top_p, rng);
    out.push_back(tok);
    if (std::find(stop_tokens.begin(), stop_tokens.end(), tok) != stop_tokens.end() || i + 1 == max_new) break;
    const int32_t p = P + i;  // position of tok
    embedding_forward(x, &tok, p_.wte, 1, C);
    for (int l = 0; l < L; l++) {
      const LayerParams& W = p_.layers[l];
      float* kcl = kc.get() + static_cast<int64_t>(l) * T * KD;
      float* vcl = vc.get() + static_cast<int64_t>(l) * T * KD;
      rmsnorm_forward(b.ln, b.rstd, x, W.ln1w, 1, C, cfg_.eps);
      float* qproj = cfg_.qk_norm ? b.qraw : b.q;
      float* kproj = cfg_.qk_norm ? b.kraw : b.k;
      matmul_forward(qproj, b.ln, W.qw, W.qb, 1, C, QD);
      matmul_forward(kproj, b.ln, W.kw, W.kb, 1, C, KD);
      matmul_forward(vcl + static_cast<int64_t>(p) * KD, b.ln, W.vw, W.vb, 1, C, KD);
      if (cfg_.qk_norm) {
        rmsnorm_forward(b.q, b.rstd, b.qraw, W.qnw, H, D, cfg_.eps);
        rmsnorm_forward(b.k, b.rstd, b.kraw, W.knw, KVH, D, cfg_.eps);
      }
      rope_forward(b.q, b.q, &p, cfg_.inv_freq.data(), cfg_.attention_scaling, 1, H, D);
      rope_forward(kcl + static_cast<int64_t>(p) * KD, b.k, &p, cfg_.inv_freq.data(), cfg_.attention_scaling, 1, KVH, D);
      decode_attention(b.att, b.scores, b.q, kcl, vcl, p, H, KVH, D);
      matmul_forward(b.mid, b.att, W.ow, nullptr, 1, QD, C);
      for (int c = 0; c < C; c++) b.mid[c] += x[c];
      rmsnorm_forward(b.ln, b.rstd, b.mid, W.ln2w, 1, C, cfg_.eps);
      matmul_forward(b.gate, b.ln, W.gatew, nullptr, 1, C, F);
      matmul_forward(b.up, b.ln, W.upw, nullptr, 1, C, F);
      swiglu_forward(b.h, b.gate, b.up, 1, F);
      matmul_forward(x, b.h, W.downw, nullptr, 1, F, C);
      for (int c = 0; c < C; c++) x[c] += b.mid[c];
    }
  }
  return out;
}
