// A Llama-family causal LM (Llama, Mistral, Qwen2 with QKV bias, Qwen3 with per-head q/k RMSNorm),
// composed from the ops of its backend (model/backend.h), in the layout of llm.c's train_gpt2.c: one
// allocation for the parameters, one for their gradients, one for each Adam moment and one for the
// activations, all in the backend's memory. The decoder layer is written once and serves training,
// evaluation and generation (with a KV cache).
//
// Shape key:
//   N   tokens in the flattened batch (all rows of a micro-batch concatenated)
//   C   hidden size            F   FFN (intermediate) size      V   vocabulary size
//   L   layers                 H   query heads                  KVH key/value heads
//   D   head dim               QD  = H*D                        KD  = KVH*D
//
// Documents are given by cu_seqlens (ndocs+1 offsets into the N tokens); attention never crosses
// a document boundary. Labels are unshifted (HF convention): position t is scored against
// labels[t+1], and the last position of the flattened batch has no target.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "model/backend.h"

struct ModelConfig {
  int V = 0, C = 0, F = 0, L = 0, H = 0, KVH = 0, D = 0;
  float eps = 1e-6f;
  bool tied = false;     // lm_head shares model.embed_tokens.weight
  bool qkv_bias = false;  // Qwen2
  bool qk_norm = false;   // Qwen3: RMSNorm over D on every q and k head, before RoPE
  std::vector<float> inv_freq;  // (D/2), any rope scaling already applied by the caller
  float attention_scaling = 1.0f;
};

// Returns an empty string when the config is usable, else what is wrong with it.
std::string validate_config(const ModelConfig& c);

// One HF tensor mapped to a slice of the parameter buffer (and of the gradient and moment buffers,
// which share the layout).
struct TensorSlot {
  std::string name;          // HF name, e.g. "model.layers.0.self_attn.q_proj.weight"
  int64_t offset = 0;        // in floats, into the parameter buffer
  int64_t numel = 0;
  std::vector<int> shape;
  bool decay = false;        // AdamW weight decay applies (matrices), not to biases and norm weights
};

// Pointers into one parameter-shaped buffer. The same struct views parameters, gradients and moments.
struct LayerParams {
  float* ln1w;   // (C)      input_layernorm
  float* qw;     // (QD, C)  q_proj
  float* kw;     // (KD, C)
  float* vw;     // (KD, C)
  float* qb;     // (QD)     null unless qkv_bias
  float* kb;     // (KD)
  float* vb;     // (KD)
  float* qnw;    // (D)      null unless qk_norm
  float* knw;    // (D)
  float* ow;     // (C, QD)  o_proj
  float* ln2w;   // (C)      post_attention_layernorm
  float* gatew;  // (F, C)
  float* upw;    // (F, C)
  float* downw;  // (C, F)
};

struct ParamViews {
  float* wte;                       // (V, C)
  std::vector<LayerParams> layers;  // L of them
  float* lnfw;                      // (C)
  float* lm_head;                   // (V, C), equals wte when tied
};

// Activations one layer saves for its backward pass. Without recomputation every layer has its
// own; with recomputation one scratch set is shared and refilled from the layer's input.
struct LayerActs {
  float* ln1;       // (N, C)
  float* ln1_rstd;  // (N)
  float* q_raw;     // (N, H, D)   projection before q_norm; null unless qk_norm
  float* q_rstd;    // (N, H)      null unless qk_norm
  float* k_raw;     // (N, KVH, D) null unless qk_norm
  float* k_rstd;    // (N, KVH)    null unless qk_norm
  float* q;         // (N, H, D)   after norm and RoPE: what attention reads
  float* k;         // (N, KVH, D)
  float* v;         // (N, KVH, D)
  float* att;       // (N, H, D)   attention output
  float* lse;       // (N, H)      log-sum-exp of each attention row
  float* res_mid;   // (N, C)      residual after attention
  float* ln2;       // (N, C)
  float* ln2_rstd;  // (N)
  float* gate;      // (N, F)
  float* up;        // (N, F)
  float* h;         // (N, F)      silu(gate) * up
};

// The keys and values of one layer during generation, after RoPE: k and v are (T, KVH, D), rows
// [0, len) filled. A layer given a cache appends its tokens' keys and values and attends over it.
struct KvCache {
  float* k;
  float* v;
  int len;
};

// The four parameter-shaped buffers.
enum class TensorKind { param, grad, m, v };

struct Carver;

class Model {
 public:
  Model(ModelConfig config, bool recompute, std::unique_ptr<Backend> backend);

  const ModelConfig& config() const { return cfg_; }
  const std::vector<TensorSlot>& slots() const { return slots_; }
  const TensorSlot* find(const std::string& name) const;
  // Copies one tensor (slot.numel floats) between host memory and the backend.
  void write_tensor(TensorKind kind, const TensorSlot& slot, const float* src);
  void read_tensor(TensorKind kind, const TensorSlot& slot, float* dst) const;

  int step_count = 0;     // optimizer steps taken; AdamW's bias correction uses step_count after ++
  uint64_t rng[4] = {};   // xoshiro256** state, for sampling in generate

  // Returns "" when the batch is well formed for this model, else what is wrong with it.
  std::string validate_batch(const int32_t* ids, const int32_t* labels, const int32_t* pos,
                             const int32_t* cu_seqlens, int ndocs, int N) const;

  // The batch arguments below are host memory. Logits of every position, out is (N, V).
  void logits(float* out, const int32_t* ids, const int32_t* pos, const int32_t* cu_seqlens, int ndocs, int N);

  // Sum of token losses, and the number of scored tokens; the gradient of that sum is ADDED to
  // the gradient buffer.
  double accumulate(int64_t* tokens, const int32_t* ids, const int32_t* labels, const int32_t* pos,
                    const int32_t* cu_seqlens, int ndocs, int N);

  // Forward only; *correct counts the scored tokens predicted exactly (greedy argmax), for token accuracy.
  double eval_loss(int64_t* tokens, int64_t* correct, const int32_t* ids, const int32_t* labels, const int32_t* pos,
                   const int32_t* cu_seqlens, int ndocs, int N);

  // grads /= tokens_in_step, global norm, clip to max_grad_norm (if > 0), AdamW, zero grads.
  // Returns the norm before clipping; a non-finite norm leaves the parameters untouched and returns it.
  // Hyper-parameters stay double down to adamw_update: (1 - beta2) in float is off by 1.3e-5.
  double step(double tokens_in_step, double lr, double beta1, double beta2, double eps, double weight_decay,
              double max_grad_norm);

  // Appends up to max_new tokens after the prompt (greedy when temperature == 0); stops after
  // emitting a stop token (which is included).
  std::vector<int32_t> generate(const std::vector<int32_t>& prompt, int max_new, float temperature, float top_p,
                                const std::vector<int32_t>& stop_tokens);
  void seed_rng(uint64_t seed);

 private:
  float* buffer(TensorKind kind) const;
  void zero_grad();
  void ensure_acts(int N);
  // Copies a batch of N tokens (ndocs documents) into ids_, pos_ and cu_.
  void load_batch(const int32_t* ids, const int32_t* pos, const int32_t* cu_seqlens, int ndocs, int N);
  // Points a layer's saved activations (N tokens) at the next slices of c.
  void layer_views(LayerActs& a, Carver& c, int N) const;
  // Points every activation and backward scratch buffer for N tokens into base, or with base null
  // only counts them; returns the floats they take.
  int64_t carve_acts(float* base, int N);
  // Forward of layer l on the batch in ids_/pos_/cu_: reads x (N,C), writes its saved activations into a
  // and the output into out (N,C). With a cache the N tokens follow its len rows: one document, and
  // either the whole prompt (len 0) or a single token.
  void layer_forward(int l, float* out, LayerActs& a, const float* x, int ndocs, int N, KvCache* cache);
  // Backward of layer l: dres (N,C) holds d(output) on entry and d(input) on return.
  void layer_backward(int l, float* dres, const LayerActs& a, const float* x, int ndocs, int N);
  // Embedding, every layer and the final norm of the loaded batch; leaves the final normed hidden
  // states in lnf_. caches is null or one per layer.
  void forward(int ndocs, int N, KvCache* caches);
  LayerActs& acts_for(int l) { return recompute_ ? scratch_acts_ : layer_acts_[l]; }

  // First member: every buffer below is released before the backend goes.
  std::unique_ptr<Backend> be_;
  ModelConfig cfg_;
  bool recompute_;
  std::vector<TensorSlot> slots_;
  int64_t num_params_ = 0;
  Buffer params_, grads_, m_, v_;  // each (num_params)
  Buffer inv_freq_;                // (D/2) cfg_.inv_freq, where the RoPE op reads it
  ParamViews p_, g_;

  // Activations and the batch, sized for the largest micro-batch seen so far.
  int acts_N_ = 0;
  Buffer acts_;
  Buffer ids_, pos_, cu_, targets_;  // (N), (N), (N+1), (N) int32
  float* residual_ = nullptr;   // (L+1, N, C): input of each layer, then the final residual
  int64_t res_stride_ = 0;      // floats between the layers' slices of residual_ (N*C of the largest batch, aligned)
  float* lnf_ = nullptr;        // (N, C)
  float* lnf_rstd_ = nullptr;   // (N)
  std::vector<LayerActs> layer_acts_;  // L of them, or none with recomputation
  LayerActs scratch_acts_;             // the shared set with recomputation
  // Backward scratch, shared by all layers.
  float* dres_ = nullptr;   // (N, C)
  float* dln_ = nullptr;    // (N, C)
  float* dq_ = nullptr;     // (N, H, D)
  float* datt_ = nullptr;   // (N, H, D)
  float* dk_ = nullptr;     // (N, KVH, D)
  float* dk2_ = nullptr;    // (N, KVH, D)
  float* dv_ = nullptr;     // (N, KVH, D)
  float* dgate_ = nullptr;  // (N, F)
  float* dup_ = nullptr;    // (N, F)
  float* dh_ = nullptr;     // (N, F)
  std::vector<int32_t> host_targets_;  // (N) shifted labels, before they are copied to targets_
};
