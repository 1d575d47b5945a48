// The model: parameter layout, forward, backward, loss and the optimizer step, on the ops of its
// backend. See model.h for the shape key. Generation lives in generate.cc.
#include "model/model.h"

#include <algorithm>
#include <cmath>
#include <utility>

// Slices of a buffer start on a 64-byte boundary so every tensor is aligned like the buffer.
static int64_t aligned(int64_t n) { return (n + 15) / 16 * 16; }

static size_t float_bytes(int64_t n) { return static_cast<size_t>(n) * sizeof(float); }

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

Model::Model(ModelConfig config, bool recompute, std::unique_ptr<Backend> backend)
    : be_(std::move(backend)), cfg_(std::move(config)), recompute_(recompute) {
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

  params_ = Buffer(*be_, float_bytes(num_params_));
  grads_ = Buffer(*be_, float_bytes(num_params_));
  m_ = Buffer(*be_, float_bytes(num_params_));
  v_ = Buffer(*be_, float_bytes(num_params_));
  inv_freq_ = Buffer(*be_, float_bytes(D / 2));
  be_->copy_in(inv_freq_.floats(), cfg_.inv_freq.data(), float_bytes(D / 2));

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
  views(params_.floats(), p_);
  views(grads_.floats(), g_);
}

float* Model::buffer(TensorKind kind) const {
  switch (kind) {
    case TensorKind::param: return params_.floats();
    case TensorKind::grad: return grads_.floats();
    case TensorKind::m: return m_.floats();
    case TensorKind::v: return v_.floats();
  }
  return nullptr;
}

void Model::write_tensor(TensorKind kind, const TensorSlot& slot, const float* src) {
  be_->copy_in(buffer(kind) + slot.offset, src, float_bytes(slot.numel));
}

void Model::read_tensor(TensorKind kind, const TensorSlot& slot, float* dst) const {
  be_->copy_out(dst, buffer(kind) + slot.offset, float_bytes(slot.numel));
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
  acts_ = Buffer(*be_, float_bytes(carve_acts(nullptr, N)));
  carve_acts(acts_.floats(), N);
  const size_t ints = sizeof(int32_t) * static_cast<size_t>(N);
  ids_ = Buffer(*be_, ints);
  pos_ = Buffer(*be_, ints);
  cu_ = Buffer(*be_, ints + sizeof(int32_t));
  targets_ = Buffer(*be_, ints);
  host_targets_.assign(N, -100);
  acts_N_ = N;
}

void Model::load_batch(const int32_t* ids, const int32_t* pos, const int32_t* cu_seqlens, int ndocs, int N) {
  ensure_acts(N);
  be_->copy_in(ids_.ints(), ids, sizeof(int32_t) * N);
  be_->copy_in(pos_.ints(), pos, sizeof(int32_t) * N);
  be_->copy_in(cu_.ints(), cu_seqlens, sizeof(int32_t) * (ndocs + 1));
}

// ----------------------------------------------------------------------------
// forward

void Model::layer_forward(int l, float* out, LayerActs& a, const float* x, int ndocs, int N, KvCache* cache) {
  const int C = cfg_.C, F = cfg_.F, H = cfg_.H, KVH = cfg_.KVH, D = cfg_.D, QD = H * D, KD = KVH * D;
  const LayerParams& P = p_.layers[l];
  const int32_t* pos = pos_.ints();
  const float* inv_freq = inv_freq_.floats();
  Backend& be = *be_;
  // x is (N,C): attention block
  be.rmsnorm_forward(a.ln1, a.ln1_rstd, x, P.ln1w, N, C, cfg_.eps);
  // q, k and v as three GEMMs straight into the buffers attention reads. One fused (N, QD+2KD) GEMM
  // plus a split copy would save little: 22.2 ms vs 25.1 ms per layer forward at N=2048, C=384,
  // QD=384, KD=128 (one thread), about 1% of a training step; gate/up likewise (63 vs 67 ms).
  float* qproj = cfg_.qk_norm ? a.q_raw : a.q;  // (N,H,D)
  float* kproj = cfg_.qk_norm ? a.k_raw : a.k;  // (N,KVH,D)
  be.matmul_forward(qproj, a.ln1, P.qw, P.qb, N, C, QD);
  be.matmul_forward(kproj, a.ln1, P.kw, P.kb, N, C, KD);
  be.matmul_forward(a.v, a.ln1, P.vw, P.vb, N, C, KD);
  if (cfg_.qk_norm) {
    // every head of every token is one RMSNorm row of length D
    be.rmsnorm_forward(a.q, a.q_rstd, a.q_raw, P.qnw, N * H, D, cfg_.eps);
    be.rmsnorm_forward(a.k, a.k_rstd, a.k_raw, P.knw, N * KVH, D, cfg_.eps);
  }
  be.rope_forward(a.q, a.q, pos, inv_freq, cfg_.attention_scaling, N, H, D);
  be.rope_forward(a.k, a.k, pos, inv_freq, cfg_.attention_scaling, N, KVH, D);
  // With a cache the new keys and values are appended to it: the prompt (len 0, one document) then
  // attends to itself as in training, a single new token to the whole cache.
  if (cache != nullptr) {
    const int64_t row = static_cast<int64_t>(cache->len) * KD;
    be.copy(cache->k + row, a.k, float_bytes(static_cast<int64_t>(N) * KD));
    be.copy(cache->v + row, a.v, float_bytes(static_cast<int64_t>(N) * KD));
  }
  if (cache == nullptr || cache->len == 0)
    be.attention_forward(a.att, a.lse, a.q, a.k, a.v, cu_.ints(), ndocs, N, H, KVH, D);
  else
    be.attention_decode(a.att, a.q, cache->k, cache->v, cache->len + 1, H, KVH, D);
  if (cache != nullptr) cache->len += N;
  be.matmul_forward(a.res_mid, a.att, P.ow, nullptr, N, QD, C);
  be.add_inplace(a.res_mid, x, static_cast<int64_t>(N) * C);
  // MLP block
  be.rmsnorm_forward(a.ln2, a.ln2_rstd, a.res_mid, P.ln2w, N, C, cfg_.eps);
  be.matmul_forward(a.gate, a.ln2, P.gatew, nullptr, N, C, F);
  be.matmul_forward(a.up, a.ln2, P.upw, nullptr, N, C, F);
  be.swiglu_forward(a.h, a.gate, a.up, N, F);
  // recomputation only needs the saved activations, not the output
  if (out == nullptr) return;
  be.matmul_forward(out, a.h, P.downw, nullptr, N, F, C);
  be.add_inplace(out, a.res_mid, static_cast<int64_t>(N) * C);
}

void Model::forward(int ndocs, int N, KvCache* caches) {
  const int64_t C = cfg_.C, L = cfg_.L, NC = res_stride_;
  be_->embedding_forward(residual_, ids_.ints(), p_.wte, N, cfg_.C);
  for (int l = 0; l < L; l++)
    layer_forward(l, residual_ + (l + 1) * NC, acts_for(l), residual_ + l * NC, ndocs, N,
                  caches == nullptr ? nullptr : &caches[l]);
  be_->rmsnorm_forward(lnf_, lnf_rstd_, residual_ + L * NC, p_.lnfw, N, C, cfg_.eps);
}

void Model::logits(float* out, const int32_t* ids, const int32_t* pos, const int32_t* cu_seqlens, int ndocs, int N) {
  load_batch(ids, pos, cu_seqlens, ndocs, N);
  forward(ndocs, N, nullptr);
  const int64_t NV = static_cast<int64_t>(N) * cfg_.V;
  Buffer logits(*be_, float_bytes(NV));  // (N, V)
  be_->matmul_forward(logits.floats(), lnf_, p_.lm_head, nullptr, N, cfg_.C, cfg_.V);
  be_->copy_out(out, logits.floats(), float_bytes(NV));
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
  load_batch(ids, pos, cu_seqlens, ndocs, N);
  forward(ndocs, N, nullptr);
  *tokens = shift_labels(host_targets_.data(), labels, N);
  be_->copy_in(targets_.ints(), host_targets_.data(), sizeof(int32_t) * N);
  return be_->linear_cross_entropy_loss(lnf_, p_.lm_head, targets_.ints(), N, cfg_.C, cfg_.V, correct);
}

// ----------------------------------------------------------------------------
// backward

void Model::layer_backward(int l, float* dres, const LayerActs& a, const float* x, int ndocs, int N) {
  const int C = cfg_.C, F = cfg_.F, H = cfg_.H, KVH = cfg_.KVH, D = cfg_.D, QD = H * D, KD = KVH * D;
  const LayerParams& P = p_.layers[l];
  const LayerParams& G = g_.layers[l];
  const int32_t* pos = pos_.ints();
  const int32_t* cu_seqlens = cu_.ints();
  const float* inv_freq = inv_freq_.floats();
  Backend& be = *be_;
  // dres is d(out) (N,C); out = res_mid + down(h)
  be.matmul_backward(dh_, G.downw, nullptr, dres, a.h, P.downw, N, F, C, false);
  be.swiglu_backward(dgate_, dup_, dh_, a.gate, a.up, N, F);
  // gate and up both read ln2: their input gradients add up in dln_
  be.matmul_backward(dln_, G.gatew, nullptr, dgate_, a.ln2, P.gatew, N, C, F, false);
  be.matmul_backward(dln_, G.upw, nullptr, dup_, a.ln2, P.upw, N, C, F, true);
  // the residual path already carries d(out) in dres: the norm's input gradient is added to it
  be.rmsnorm_backward(dres, G.ln2w, dln_, a.res_mid, P.ln2w, a.ln2_rstd, N, C, true);
  // dres is now d(res_mid) (N,C); res_mid = x + o_proj(att)
  be.matmul_backward(datt_, G.ow, nullptr, dres, a.att, P.ow, N, QD, C, false);
  be.attention_backward(dq_, dk_, dv_, datt_, a.q, a.k, a.v, a.att, a.lse, cu_seqlens, ndocs, N, H, KVH, D);
  // undo RoPE: datt_ becomes d(q before RoPE) (N,H,D), dk2_ d(k before RoPE) (N,KVH,D)
  be.rope_backward(datt_, dq_, pos, inv_freq, cfg_.attention_scaling, N, H, D);
  be.rope_backward(dk2_, dk_, pos, inv_freq, cfg_.attention_scaling, N, KVH, D);
  const float* dqproj = datt_;
  const float* dkproj = dk2_;
  if (cfg_.qk_norm) {
    be.rmsnorm_backward(dq_, G.qnw, datt_, a.q_raw, P.qnw, a.q_rstd, N * H, D, false);
    be.rmsnorm_backward(dk_, G.knw, dk2_, a.k_raw, P.knw, a.k_rstd, N * KVH, D, false);
    dqproj = dq_;
    dkproj = dk_;
  }
  // q, k and v all read ln1
  be.matmul_backward(dln_, G.qw, G.qb, dqproj, a.ln1, P.qw, N, C, QD, false);
  be.matmul_backward(dln_, G.kw, G.kb, dkproj, a.ln1, P.kw, N, C, KD, true);
  be.matmul_backward(dln_, G.vw, G.vb, dv_, a.ln1, P.vw, N, C, KD, true);
  be.rmsnorm_backward(dres, G.ln1w, dln_, x, P.ln1w, a.ln1_rstd, N, C, true);
  // dres is now d(x) (N,C)
}

double Model::accumulate(int64_t* tokens, const int32_t* ids, const int32_t* labels, const int32_t* pos,
                         const int32_t* cu_seqlens, int ndocs, int N) {
  load_batch(ids, pos, cu_seqlens, ndocs, N);
  forward(ndocs, N, nullptr);
  *tokens = shift_labels(host_targets_.data(), labels, N);
  be_->copy_in(targets_.ints(), host_targets_.data(), sizeof(int32_t) * N);
  const int C = cfg_.C, L = cfg_.L;
  const int64_t NC = res_stride_;
  // loss and d(lnf) (N,C); the output projection's gradient is accumulated inside
  double loss =
      be_->fused_linear_cross_entropy(dln_, g_.lm_head, lnf_, p_.lm_head, targets_.ints(), N, C, cfg_.V, 1.0f);
  be_->rmsnorm_backward(dres_, g_.lnfw, dln_, residual_ + L * NC, p_.lnfw, lnf_rstd_, N, C, false);
  for (int l = L - 1; l >= 0; l--) {
    const float* x = residual_ + l * NC;
    // the scratch still holds the last layer's activations from the forward pass
    if (recompute_ && l < L - 1) layer_forward(l, nullptr, scratch_acts_, x, ndocs, N, nullptr);
    layer_backward(l, dres_, acts_for(l), x, ndocs, N);
  }
  be_->embedding_backward(g_.wte, dres_, ids_.ints(), N, C);
  return loss;
}

// ----------------------------------------------------------------------------
// optimizer

void Model::zero_grad() { be_->zero(grads_.floats(), float_bytes(num_params_)); }

double Model::step(double tokens_in_step, double lr, double beta1, double beta2, double eps, double weight_decay,
                   double max_grad_norm) {
  float* g = grads_.floats();
  // The loss of the step is sum / tokens_in_step, so are its gradients. Padding between slots is 0.
  be_->scale_inplace(g, static_cast<float>(1.0 / tokens_in_step), num_params_);
  const double norm = std::sqrt(be_->sum_squares(g, num_params_));
  if (!std::isfinite(norm)) return norm;
  // torch.nn.utils.clip_grad_norm_: coef = max_norm / (norm + 1e-6), applied only when below 1;
  // AdamW applies it as it reads each gradient
  float clip = 1.0f;
  if (max_grad_norm > 0) clip = std::min(1.0f, static_cast<float>(max_grad_norm / (norm + 1e-6)));
  step_count++;
  for (const TensorSlot& s : slots_)
    be_->adamw_update(params_.floats() + s.offset, m_.floats() + s.offset, v_.floats() + s.offset, g + s.offset,
                      s.numel, lr, beta1, beta2, eps, s.decay ? weight_decay : 0.0, clip, step_count);
  zero_grad();
  return norm;
}
