// The model: parameter layout, forward, backward, loss and the optimizer step. See model.h for
// the shape key. Decoding with a KV cache lives in generate.cc.
#include "cpu/model.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <new>
#include <utility>

#include "cpu/adamw.h"
#include "cpu/attention.h"
#include "cpu/cross_entropy.h"
#include "cpu/embedding.h"
#include "cpu/gemm.h"
#include "cpu/matmul.h"
#include "cpu/parallel.h"
#include "cpu/rmsnorm.h"
#include "cpu/rope.h"
#include "cpu/swiglu.h"

FloatBuffer alloc_floats(int64_t n) {
  size_t bytes = (static_cast<size_t>(n > 0 ? n : 1) * sizeof(float) + 63) / 64 * 64;
  void* p = std::aligned_alloc(64, bytes);
  if (p == nullptr) throw std::bad_alloc();
  std::memset(p, 0, bytes);
  return FloatBuffer(static_cast<float*>(p));
}

// Slices of a buffer start on a 64-byte boundary so every tensor is aligned like the buffer.
static int64_t aligned(int64_t n) { return (n + 15) / 16 * 16; }

// ----------------------------------------------------------------------------
// elementwise helpers (partitioned over elements, so independent of the thread count)

// out (n) += inp (n)
static void add_inplace(float* out, const float* inp, int64_t n) {
  parallel_for(n, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; i++) out[i] += inp[i];
  });
}

// x (n) *= s
static void scale_inplace(float* x, float s, int64_t n) {
  parallel_for(n, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; i++) x[i] *= s;
  });
}

// ----------------------------------------------------------------------------
// configuration and parameter layout

std::string validate_config(const ModelConfig& c) {
  if (c.V <= 0 || c.C <= 0 || c.F <= 0 || c.L <= 0 || c.H <= 0 || c.KVH <= 0 || c.D <= 0)
    return "vocabSize, hiddenSize, intermediateSize, numLayers, numHeads, numKvHeads and headDim must be positive";
  if (c.H % c.KVH != 0) return "numHeads must be a multiple of numKvHeads";
  if (c.D % 2 != 0) return "headDim must be even (RoPE rotates pairs)";
  if (static_cast<int>(c.inv_freq.size()) != c.D / 2)
    return "invFreq must have headDim/2 = " + std::to_string(c.D / 2) + " entries, got " +
           std::to_string(c.inv_freq.size());
  if (!(c.eps > 0)) return "rmsNormEps must be positive";
  return "";
}

Model::Model(ModelConfig config, bool recompute) : cfg_(std::move(config)), recompute_(recompute) {
  const int V = cfg_.V, C = cfg_.C, F = cfg_.F, L = cfg_.L, H = cfg_.H, KVH = cfg_.KVH, D = cfg_.D;
  const int QD = H * D, KD = KVH * D;
  auto add = [&](const std::string& name, std::vector<int> shape, bool decay) {
    int64_t numel = 1;
    for (int s : shape) numel *= s;
    slots_.push_back({name, num_params_, numel, std::move(shape), decay});
    num_params_ += aligned(numel);
  };
  add("model.embed_tokens.weight", {V, C}, true);
  for (int l = 0; l < L; l++) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    add(p + "input_layernorm.weight", {C}, false);
    add(p + "self_attn.q_proj.weight", {QD, C}, true);
    add(p + "self_attn.k_proj.weight", {KD, C}, true);
    add(p + "self_attn.v_proj.weight", {KD, C}, true);
    if (cfg_.qkv_bias) {
      add(p + "self_attn.q_proj.bias", {QD}, false);
      add(p + "self_attn.k_proj.bias", {KD}, false);
      add(p + "self_attn.v_proj.bias", {KD}, false);
    }
    if (cfg_.qk_norm) {
      add(p + "self_attn.q_norm.weight", {D}, false);
      add(p + "self_attn.k_norm.weight", {D}, false);
    }
    add(p + "self_attn.o_proj.weight", {C, QD}, true);
    add(p + "post_attention_layernorm.weight", {C}, false);
    add(p + "mlp.gate_proj.weight", {F, C}, true);
    add(p + "mlp.up_proj.weight", {F, C}, true);
    add(p + "mlp.down_proj.weight", {C, F}, true);
  }
  add("model.norm.weight", {C}, false);
  if (!cfg_.tied) add("lm_head.weight", {V, C}, true);

  params_ = alloc_floats(num_params_);
  grads_ = alloc_floats(num_params_);
  m_ = alloc_floats(num_params_);
  v_ = alloc_floats(num_params_);

  // Views follow the slot order above.
  auto views = [&](float* base, ParamViews& pv) {
    size_t i = 0;
    auto next = [&]() { return base + slots_[i++].offset; };
    pv.wte = next();
    pv.layers.resize(L);
    for (int l = 0; l < L; l++) {
      LayerParams& lp = pv.layers[l];
      lp.ln1w = next();
      lp.qw = next();
      lp.kw = next();
      lp.vw = next();
      lp.qb = lp.kb = lp.vb = nullptr;
      if (cfg_.qkv_bias) {
        lp.qb = next();
        lp.kb = next();
        lp.vb = next();
      }
      lp.qnw = lp.knw = nullptr;
      if (cfg_.qk_norm) {
        lp.qnw = next();
        lp.knw = next();
      }
      lp.ow = next();
      lp.ln2w = next();
      lp.gatew = next();
      lp.upw = next();
      lp.downw = next();
    }
    pv.lnfw = next();
    pv.lm_head = cfg_.tied ? pv.wte : next();
  };
  views(params_.get(), p_);
  views(grads_.get(), g_);
}

const TensorSlot* Model::find(const std::string& name) const {
  for (const TensorSlot& s : slots_)
    if (s.name == name) return &s;
  return nullptr;
}

std::string Model::validate_batch(const int32_t* ids, const int32_t* labels, const int32_t* pos,
                                  const int32_t* cu_seqlens, int ndocs, int N) const {
  if (N <= 0) return "the batch is empty";
  if (ndocs <= 0) return "cuSeqlens must have at least 2 entries";
  if (cu_seqlens[0] != 0) return "cuSeqlens[0] must be 0";
  if (cu_seqlens[ndocs] != N)
    return "cuSeqlens must end at the number of tokens " + std::to_string(N) + ", got " +
           std::to_string(cu_seqlens[ndocs]);
  for (int d = 0; d < ndocs; d++)
    if (cu_seqlens[d + 1] <= cu_seqlens[d]) return "cuSeqlens must be strictly increasing (at index " + std::to_string(d + 1) + ")";
  for (int t = 0; t < N; t++) {
    if (ids[t] < 0 || ids[t] >= cfg_.V)
      return "inputIds[" + std::to_string(t) + "] = " + std::to_string(ids[t]) + " is outside the vocabulary [0, " +
             std::to_string(cfg_.V) + ")";
    if (labels != nullptr && labels[t] != -100 && (labels[t] < 0 || labels[t] >= cfg_.V))
      return "labels[" + std::to_string(t) + "] = " + std::to_string(labels[t]) + " is neither -100 nor in [0, " +
             std::to_string(cfg_.V) + ")";
    if (pos[t] < 0) return "positionIds[" + std::to_string(t) + "] is negative";
  }
  return "";
}

// ----------------------------------------------------------------------------
// activations

// Hands out consecutive aligned slices of a buffer; with a null base it only counts them, so the
// activations are sized and carved by the same code and the two cannot disagree.
struct Carver {
  float* base;
  int64_t used = 0;
  float* take(int64_t n) {
    float* p = base == nullptr ? nullptr : base + used;
    used += aligned(n);
    return p;
  }
};

void Model::layer_views(LayerActs& a, Carver& c, int N) const {
  const int64_t C = cfg_.C, F = cfg_.F, H = cfg_.H, KVH = cfg_.KVH, QD = H * cfg_.D, KD = KVH * cfg_.D;
  a.ln1 = c.take(N * C);
  a.ln1_rstd = c.take(N);
  a.q_raw = a.q_rstd = a.k_raw = a.k_rstd = nullptr;
  if (cfg_.qk_norm) {
    a.q_raw = c.take(N * QD);
    a.q_rstd = c.take(N * H);
    a.k_raw = c.take(N * KD);
    a.k_rstd = c.take(N * KVH);
  }
  a.q = c.take(N * QD);
  a.k = c.take(N * KD);
  a.v = c.take(N * KD);
  a.att = c.take(N * QD);
  a.lse = c.take(N * H);
  a.res_mid = c.take(N * C);
  a.ln2 = c.take(N * C);
  a.ln2_rstd = c.take(N);
  a.gate = c.take(N * F);
  a.up = c.take(N * F);
  a.h = c.take(N * F);
}

int64_t Model::carve_acts(float* base, int N) {
  const int64_t C = cfg_.C, F = cfg_.F, L = cfg_.L, QD = cfg_.H * cfg_.D, KD = cfg_.KVH * cfg_.D;
  Carver c{base};
  // The residual stream: every layer's input stays alive for its backward (and for recomputation).
  res_stride_ = aligned(N * C);
  residual_ = c.take((L + 1) * res_stride_);
  lnf_ = c.take(N * C);
  lnf_rstd_ = c.take(N);
  layer_acts_.clear();
  if (recompute_) {
    layer_views(scratch_acts_, c, N);
  } else {
    layer_acts_.resize(L);
    for (LayerActs& a : layer_acts_) layer_views(a, c, N);
  }
  dres_ = c.take(N * C);
  dln_ = c.take(N * C);
  dq_ = c.take(N * QD);
  datt_ = c.take(N * QD);
  dk_ = c.take(N * KD);
  dk2_ = c.take(N * KD);
  dv_ = c.take(N * KD);
  dgate_ = c.take(N * F);
  dup_ = c.take(N * F);
  dh_ = c.take(N * F);
  return c.used;
}

void Model::ensure_acts(int N) {
  if (N <= acts_N_) return;
  // No views of the old buffer survive a failed allocation.
  acts_N_ = 0;
  acts_.reset();
  acts_ = alloc_floats(carve_acts(nullptr, N));
  carve_acts(acts_.get(), N);
  targets_.assign(N, -100);
  acts_N_ = N;
}

// ----------------------------------------------------------------------------
// forward

void Model::layer_forward(int l, float* out, LayerActs& a, const float* x, const int32_t* pos,
                          const int32_t* cu_seqlens, int ndocs, int N) {
  const int C = cfg_.C, F = cfg_.F, H = cfg_.H, KVH = cfg_.KVH, D = cfg_.D, QD = H * D, KD = KVH * D;
  const LayerParams& P = p_.layers[l];
  // x is (N,C): attention block
  rmsnorm_forward(a.ln1, a.ln1_rstd, x, P.ln1w, N, C, cfg_.eps);
  // q, k and v as three GEMMs straight into the buffers attention reads. One fused (N, QD+2KD) GEMM
  // plus a split copy would save little: 22.2 ms vs 25.1 ms per layer forward at N=2048, C=384,
  // QD=384, KD=128 (one thread), about 1% of a training step; gate/up likewise (63 vs 67 ms).
  float* qproj = cfg_.qk_norm ? a.q_raw : a.q;  // (N,H,D)
  float* kproj = cfg_.qk_norm ? a.k_raw : a.k;  // (N,KVH,D)
  matmul_forward(qproj, a.ln1, P.qw, P.qb, N, C, QD);
  matmul_forward(kproj, a.ln1, P.kw, P.kb, N, C, KD);
  matmul_forward(a.v, a.ln1, P.vw, P.vb, N, C, KD);
  if (cfg_.qk_norm) {
    // every head of every token is one RMSNorm row of length D
    rmsnorm_forward(a.q, a.q_rstd, a.q_raw, P.qnw, N * H, D, cfg_.eps);
    rmsnorm_forward(a.k, a.k_rstd, a.k_raw, P.knw, N * KVH, D, cfg_.eps);
  }
  rope_forward(a.q, a.q, pos, cfg_.inv_freq.data(), cfg_.attention_scaling, N, H, D);
  rope_forward(a.k, a.k, pos, cfg_.inv_freq.data(), cfg_.attention_scaling, N, KVH, D);
  attention_forward(a.att, a.lse, a.q, a.k, a.v, cu_seqlens, ndocs, N, H, KVH, D);
  matmul_forward(a.res_mid, a.att, P.ow, nullptr, N, QD, C);
  add_inplace(a.res_mid, x, static_cast<int64_t>(N) * C);
  // MLP block
  rmsnorm_forward(a.ln2, a.ln2_rstd, a.res_mid, P.ln2w, N, C, cfg_.eps);
  matmul_forward(a.gate, a.ln2, P.gatew, nullptr, N, C, F);
  matmul_forward(a.up, a.ln2, P.upw, nullptr, N, C, F);
  swiglu_forward(a.h, a.gate, a.up, N, F);
  // recomputation only needs the saved activations, not the output
  if (out == nullptr) return;
  matmul_forward(out, a.h, P.downw, nullptr, N, F, C);
  add_inplace(out, a.res_mid, static_cast<int64_t>(N) * C);
}

void Model::forward(const int32_t* ids, const int32_t* pos, const int32_t* cu_seqlens, int ndocs, int N) {
  ensure_acts(N);
  const int64_t C = cfg_.C, L = cfg_.L, NC = res_stride_;
  embedding_forward(residual_, ids, p_.wte, N, cfg_.C);
  for (int l = 0; l < L; l++)
    layer_forward(l, residual_ + (l + 1) * NC, acts_for(l), residual_ + l * NC, pos, cu_seqlens, ndocs, N);
  rmsnorm_forward(lnf_, lnf_rstd_, residual_ + L * NC, p_.lnfw, N, C, cfg_.eps);
}

void Model::logits(float* out, const int32_t* ids, const int32_t* pos, const int32_t* cu_seqlens, int ndocs, int N) {
  forward(ids, pos, cu_seqlens, ndocs, N);
  matmul_forward(out, lnf_, p_.lm_head, nullptr, N, cfg_.C, cfg_.V);
}

// targets_[t] = labels[t+1]; the last token of the flattened batch has no target.
static int64_t shift_labels(int32_t* targets, const int32_t* labels, int N) {
  int64_t tokens = 0;
  for (int t = 0; t < N; t++) {
    targets[t] = t + 1 < N ? labels[t + 1] : -100;
    tokens += targets[t] != -100;
  }
  return tokens;
}

double Model::eval_loss(int64_t* tokens, int64_t* correct, const int32_t* ids, const int32_t* labels,
                        const int32_t* pos, const int32_t* cu_seqlens, int ndocs, int N) {
  forward(ids, pos, cu_seqlens, ndocs, N);
  *tokens = shift_labels(targets_.data(), labels, N);
  return linear_cross_entropy_loss(lnf_, p_.lm_head, targets_.data(), N, cfg_.C, cfg_.V, correct);
}

// ----------------------------------------------------------------------------
// backward

void Model::layer_backward(int l, float* dres, const LayerActs& a, const float* x, const int32_t* pos,
                           const int32_t* cu_seqlens, int ndocs, int N) {
  const int C = cfg_.C, F = cfg_.F, H = cfg_.H, KVH = cfg_.KVH, D = cfg_.D, QD = H * D, KD = KVH * D;
  const LayerParams& P = p_.layers[l];
  const LayerParams& G = g_.layers[l];
  // dres is d(out) (N,C); out = res_mid + down(h)
  matmul_backward(dh_, G.downw, nullptr, dres, a.h, P.downw, N, F, C, false);
  swiglu_backward(dgate_, dup_, dh_, a.gate, a.up, N, F);
  // gate and up both read ln2: their input gradients add up in dln_
  matmul_backward(dln_, G.gatew, nullptr, dgate_, a.ln2, P.gatew, N, C, F, false);
  matmul_backward(dln_, G.upw, nullptr, dup_, a.ln2, P.upw, N, C, F, true);
  // the residual path already carries d(out) in dres: the norm's input gradient is added to it
  rmsnorm_backward(dres, G.ln2w, dln_, a.res_mid, P.ln2w, a.ln2_rstd, N, C, true);
  // dres is now d(res_mid) (N,C); res_mid = x + o_proj(att)
  matmul_backward(datt_, G.ow, nullptr, dres, a.att, P.ow, N, QD, C, false);
  attention_backward(dq_, dk_, dv_, datt_, a.q, a.k, a.v, a.att, a.lse, cu_seqlens, ndocs, N, H, KVH, D);
  // undo RoPE: datt_ becomes d(q before RoPE) (N,H,D), dk2_ d(k before RoPE) (N,KVH,D)
  rope_backward(datt_, dq_, pos, cfg_.inv_freq.data(), cfg_.attention_scaling, N, H, D);
  rope_backward(dk2_, dk_, pos, cfg_.inv_freq.data(), cfg_.attention_scaling, N, KVH, D);
  const float* dqproj = datt_;
  const float* dkproj = dk2_;
  if (cfg_.qk_norm) {
    rmsnorm_backward(dq_, G.qnw, datt_, a.q_raw, P.qnw, a.q_rstd, N * H, D, false);
    rmsnorm_backward(dk_, G.knw, dk2_, a.k_raw, P.knw, a.k_rstd, N * KVH, D, false);
    dqproj = dq_;
    dkproj = dk_;
  }
  // q, k and v all read ln1
  matmul_backward(dln_, G.qw, G.qb, dqproj, a.ln1, P.qw, N, C, QD, false);
  matmul_backward(dln_, G.kw, G.kb, dkproj, a.ln1, P.kw, N, C, KD, true);
  matmul_backward(dln_, G.vw, G.vb, dv_, a.ln1, P.vw, N, C, KD, true);
  rmsnorm_backward(dres, G.ln1w, dln_, x, P.ln1w, a.ln1_rstd, N, C, true);
  // dres is now d(x) (N,C)
}

double Model::accumulate(int64_t* tokens, const int32_t* ids, const int32_t* labels, const int32_t* pos,
                         const int32_t* cu_seqlens, int ndocs, int N) {
  forward(ids, pos, cu_seqlens, ndocs, N);
  *tokens = shift_labels(targets_.data(), labels, N);
  const int C = cfg_.C, L = cfg_.L;
  const int64_t NC = res_stride_;
  // loss and d(lnf) (N,C); the output projection's gradient is accumulated inside
  double loss = fused_linear_cross_entropy(dln_, g_.lm_head, lnf_, p_.lm_head, targets_.data(), N, C, cfg_.V, 1.0f);
  rmsnorm_backward(dres_, g_.lnfw, dln_, residual_ + L * NC, p_.lnfw, lnf_rstd_, N, C, false);
  for (int l = L - 1; l >= 0; l--) {
    const float* x = residual_ + l * NC;
    // the scratch still holds the last layer's activations from the forward pass
    if (recompute_ && l < L - 1) layer_forward(l, nullptr, scratch_acts_, x, pos, cu_seqlens, ndocs, N);
    layer_backward(l, dres_, acts_for(l), x, pos, cu_seqlens, ndocs, N);
  }
  embedding_backward(g_.wte, dres_, ids, N, C);
  return loss;
}

// ----------------------------------------------------------------------------
// optimizer

void Model::zero_grad() { std::memset(grads_.get(), 0, static_cast<size_t>(num_params_) * sizeof(float)); }

double Model::step(double tokens_in_step, double lr, double beta1, double beta2, double eps, double weight_decay,
                   double max_grad_norm) {
  float* g = grads_.get();
  // The loss of the step is sum / tokens_in_step, so are its gradients. Padding between slots is 0.
  scale_inplace(g, static_cast<float>(1.0 / tokens_in_step), num_params_);
  const double norm = std::sqrt(sum_squares(g, num_params_));
  if (!std::isfinite(norm)) return norm;
  // torch.nn.utils.clip_grad_norm_: coef = max_norm / (norm + 1e-6), applied only when below 1;
  // AdamW applies it as it reads each gradient
  float clip = 1.0f;
  if (max_grad_norm > 0) clip = std::min(1.0f, static_cast<float>(max_grad_norm / (norm + 1e-6)));
  step_count++;
  for (const TensorSlot& s : slots_)
    adamw_update(params_.get() + s.offset, m_.get() + s.offset, v_.get() + s.offset, g + s.offset, s.numel, lr,
                 beta1, beta2, eps, s.decay ? weight_decay : 0.0, clip, step_count);
  zero_grad();
  return norm;
}
