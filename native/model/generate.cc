// Autoregressive decoding with a KV cache: the prompt is run as one batch through the forward pass
// (its post-RoPE keys and values fill the cache), then each new token runs through the same layers
// alone, attending over the cache. Sampling happens on the host. Shape key as in model.h; T is the
// cache length.
#include <algorithm>
#include <cmath>
#include <numeric>

#include "model/model.h"

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

std::vector<int32_t> Model::generate(const std::vector<int32_t>& prompt, int max_new, float temperature, float top_p,
                                     const std::vector<int32_t>& stop_tokens) {
  const int V = cfg_.V, C = cfg_.C, L = cfg_.L, KD = cfg_.KVH * cfg_.D;
  const int P = static_cast<int>(prompt.size());
  const int T = P + max_new;
  std::vector<int32_t> out;
  if (max_new <= 0) return out;
  const int64_t layer_cache = static_cast<int64_t>(T) * KD;
  Buffer kc(*be_, sizeof(float) * L * layer_cache);  // (L, T, KVH, D)
  Buffer vc(*be_, sizeof(float) * L * layer_cache);  // (L, T, KVH, D)
  std::vector<KvCache> caches(L);
  for (int l = 0; l < L; l++) caches[l] = {kc.floats() + l * layer_cache, vc.floats() + l * layer_cache, 0};
  Buffer logits(*be_, sizeof(float) * V);  // (V)
  std::vector<float> host_logits(V);

  // prefill: the prompt as one document
  std::vector<int32_t> pos(P);
  std::iota(pos.begin(), pos.end(), 0);
  const int32_t prompt_cu[2] = {0, P};
  load_batch(prompt.data(), pos.data(), prompt_cu, 1, P);
  forward(1, P, caches.data());
  int last = P - 1;  // the row of lnf_ that predicts the next token
  for (int i = 0;; i++) {
    be_->matmul_forward(logits.floats(), lnf_ + static_cast<int64_t>(last) * C, p_.lm_head, nullptr, 1, C, V);
    be_->copy_out(host_logits.data(), logits.floats(), sizeof(float) * V);
    const int32_t tok = pick_token(host_logits.data(), V, temperature, top_p, rng);
    out.push_back(tok);
    if (std::find(stop_tokens.begin(), stop_tokens.end(), tok) != stop_tokens.end() || i + 1 == max_new) break;
    const int32_t p = P + i;  // position of tok
    const int32_t one_cu[2] = {0, 1};
    load_batch(&tok, &p, one_cu, 1, 1);
    forward(1, 1, caches.data());
    last = 0;
  }
  return out;
}
