// The cpu backend: host memory and the kernels of this folder, called as they are.
#include <cstdlib>
#include <cstring>
#include <new>

#include "cpu/adamw.h"
#include "cpu/attention.h"
#include "cpu/cross_entropy.h"
#include "cpu/elementwise.h"
#include "cpu/embedding.h"
#include "cpu/matmul.h"
#include "cpu/rmsnorm.h"
#include "cpu/rope.h"
#include "cpu/swiglu.h"
#include "model/backend.h"

namespace {

class CpuBackend final : public Backend {
 public:

  // 64-byte aligned (one cache line, two AVX2 vectors), rounded up to whole lines and never empty.
  void* allocate(size_t bytes) override {
    const size_t size = (bytes > 0 ? bytes + 63 : 64) / 64 * 64;
    void* p = std::aligned_alloc(64, size);
    if (p == nullptr) throw std::bad_alloc();
    std::memset(p, 0, size);
    return p;
  }
  void release(void* p) override { std::free(p); }
  void copy_in(void* dst, const void* host_src, size_t bytes) override { std::memcpy(dst, host_src, bytes); }
  void copy_out(void* host_dst, const void* src, size_t bytes) override { std::memcpy(host_dst, src, bytes); }
  void copy(void* dst, const void* src, size_t bytes) override { std::memcpy(dst, src, bytes); }
  void zero(void* p, size_t bytes) override { std::memset(p, 0, bytes); }

  void add_inplace(float* out, const float* inp, int64_t n) override { ::add_inplace(out, inp, n); }
  void scale_inplace(float* x, float s, int64_t n) override { ::scale_inplace(x, s, n); }

  void embedding_forward(float* out, const int32_t* ids, const float* wte, int N, int C) override {
    ::embedding_forward(out, ids, wte, N, C);
  }
  void embedding_backward(float* dwte, const float* dout, const int32_t* ids, int N, int C) override {
    ::embedding_backward(dwte, dout, ids, N, C);
  }

  void rmsnorm_forward(float* out, float* rstd, const float* inp, const float* weight, int N, int C,
                       float eps) override {
    ::rmsnorm_forward(out, rstd, inp, weight, N, C, eps);
  }
  void rmsnorm_backward(float* dinp, float* dweight, const float* dout, const float* inp, const float* weight,
                        const float* rstd, int N, int C, bool accumulate) override {
    ::rmsnorm_backward(dinp, dweight, dout, inp, weight, rstd, N, C, accumulate);
  }

  void matmul_forward(float* out, const float* inp, const float* weight, const float* bias, int N, int C,
                      int OC) override {
    ::matmul_forward(out, inp, weight, bias, N, C, OC);
  }
  void matmul_backward(float* dinp, float* dweight, float* dbias, const float* dout, const float* inp,
                       const float* weight, int N, int C, int OC, bool accumulate) override {
    ::matmul_backward(dinp, dweight, dbias, dout, inp, weight, N, C, OC, accumulate);
  }

  void rope_forward(float* out, const float* inp, const int32_t* pos, const float* inv_freq, float attention_scaling,
                    int N, int NH, int D) override {
    ::rope_forward(out, inp, pos, inv_freq, attention_scaling, N, NH, D);
  }
  void rope_backward(float* dinp, const float* dout, const int32_t* pos, const float* inv_freq,
                     float attention_scaling, int N, int NH, int D) override {
    ::rope_backward(dinp, dout, pos, inv_freq, attention_scaling, N, NH, D);
  }

  void attention_forward(float* out, float* lse, const float* q, const float* k, const float* v,
                         const int32_t* cu_seqlens, int ndocs, int N, int H, int KVH, int D) override {
    ::attention_forward(out, lse, q, k, v, cu_seqlens, ndocs, N, H, KVH, D);
  }
  void attention_backward(float* dq, float* dk, float* dv, const float* dout, const float* q, const float* k,
                          const float* v, const float* out, const float* lse, const int32_t* cu_seqlens, int ndocs,
                          int N, int H, int KVH, int D) override {
    ::attention_backward(dq, dk, dv, dout, q, k, v, out, lse, cu_seqlens, ndocs, N, H, KVH, D);
  }
  void attention_decode(float* out, const float* q, const float* kc, const float* vc, int T, int H, int KVH,
                        int D) override {
    ::attention_decode(out, q, kc, vc, T, H, KVH, D);
  }

  void swiglu_forward(float* out, const float* gate, const float* up, int N, int F) override {
    ::swiglu_forward(out, gate, up, N, F);
  }
  void swiglu_backward(float* dgate, float* dup, const float* dout, const float* gate, const float* up, int N,
                       int F) override {
    ::swiglu_backward(dgate, dup, dout, gate, up, N, F);
  }

  double fused_linear_cross_entropy(float* dinp, float* dweight, const float* inp, const float* weight,
                                    const int32_t* target, int N, int C, int V, float grad_scale) override {
    return ::fused_linear_cross_entropy(dinp, dweight, inp, weight, target, N, C, V, grad_scale);
  }
  double linear_cross_entropy_loss(const float* inp, const float* weight, const int32_t* target, int N, int C, int V,
                                   int64_t* correct) override {
    return ::linear_cross_entropy_loss(inp, weight, target, N, C, V, correct);
  }

  void adamw_update(float* param, float* m, float* v, const float* grad, int64_t n, double lr, double beta1,
                    double beta2, double eps, double weight_decay, float grad_scale, int step) override {
    ::adamw_update(param, m, v, grad, n, lr, beta1, beta2, eps, weight_decay, grad_scale, step);
  }
  double sum_squares(const float* x, int64_t n) override { return ::sum_squares(x, n); }
};

}  // namespace

std::unique_ptr<Backend> make_cpu_backend() { return std::make_unique<CpuBackend>(); }
