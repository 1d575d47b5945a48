// The seam between the model and the hardware it runs on. A backend owns memory (allocate, release,
// copies in and out) and implements every op the model calls, forward and backward, with the names,
// argument order and semantics of native/cpu/ (see each op's header there for shapes and which
// outputs are written or accumulated). Every pointer an op takes is the backend's memory; the
// model reaches host memory only through copy_in and copy_out. `cpu` (native/cpu/backend.cc) is
// the first backend; a GPU backend implements the same table with device kernels.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

class Backend {
 public:
  virtual ~Backend() = default;

  // memory: allocate returns zeroed bytes, aligned to 64, and throws std::bad_alloc when it cannot
  virtual void* allocate(size_t bytes) = 0;
  virtual void release(void* p) = 0;
  virtual void copy_in(void* dst, const void* host_src, size_t bytes) = 0;
  virtual void copy_out(void* host_dst, const void* src, size_t bytes) = 0;
  virtual void copy(void* dst, const void* src, size_t bytes) = 0;
  virtual void zero(void* p, size_t bytes) = 0;

  // elementwise (cpu/elementwise.h)
  virtual void add_inplace(float* out, const float* inp, int64_t n) = 0;
  virtual void scale_inplace(float* x, float s, int64_t n) = 0;

  // cpu/embedding.h
  virtual void embedding_forward(float* out, const int32_t* ids, const float* wte, int N, int C) = 0;
  virtual void embedding_backward(float* dwte, const float* dout, const int32_t* ids, int N, int C) = 0;

  // cpu/rmsnorm.h
  virtual void rmsnorm_forward(float* out, float* rstd, const float* inp, const float* weight, int N, int C,
                               float eps) = 0;
  virtual void rmsnorm_backward(float* dinp, float* dweight, const float* dout, const float* inp, const float* weight,
                                const float* rstd, int N, int C, bool accumulate) = 0;

  // cpu/matmul.h
  virtual void matmul_forward(float* out, const float* inp, const float* weight, const float* bias, int N, int C,
                              int OC) = 0;
  virtual void matmul_backward(float* dinp, float* dweight, float* dbias, const float* dout, const float* inp,
                               const float* weight, int N, int C, int OC, bool accumulate) = 0;

  // cpu/rope.h
  virtual void rope_forward(float* out, const float* inp, const int32_t* pos, const float* inv_freq,
                            float attention_scaling, int N, int NH, int D) = 0;
  virtual void rope_backward(float* dinp, const float* dout, const int32_t* pos, const float* inv_freq,
                             float attention_scaling, int N, int NH, int D) = 0;

  // cpu/attention.h
  virtual void attention_forward(float* out, float* lse, const float* q, const float* k, const float* v,
                                 const int32_t* cu_seqlens, int ndocs, int N, int H, int KVH, int D) = 0;
  virtual void attention_backward(float* dq, float* dk, float* dv, const float* dout, const float* q, const float* k,
                                  const float* v, const float* out, const float* lse, const int32_t* cu_seqlens,
                                  int ndocs, int N, int H, int KVH, int D) = 0;
  virtual void attention_decode(float* out, const float* q, const float* kc, const float* vc, int T, int H, int KVH,
                                int D) = 0;

  // cpu/swiglu.h
  virtual void swiglu_forward(float* out, const float* gate, const float* up, int N, int F) = 0;
  virtual void swiglu_backward(float* dgate, float* dup, const float* dout, const float* gate, const float* up, int N,
                               int F) = 0;

  // cpu/cross_entropy.h: the forward and backward of the loss are one op (the logits are never stored)
  virtual double fused_linear_cross_entropy(float* dinp, float* dweight, const float* inp, const float* weight,
                                            const int32_t* target, int N, int C, int V, float grad_scale) = 0;
  virtual double linear_cross_entropy_loss(const float* inp, const float* weight, const int32_t* target, int N, int C,
                                           int V, int64_t* correct) = 0;

  // cpu/adamw.h
  virtual void adamw_update(float* param, float* m, float* v, const float* grad, int64_t n, double lr, double beta1,
                            double beta2, double eps, double weight_decay, float grad_scale, int step) = 0;
  virtual double sum_squares(const float* x, int64_t n) = 0;
};

std::unique_ptr<Backend> make_cpu_backend();

// "" when the backend of this name ("cpu", "cuda") can run here, else why not (model/backends.cc).
std::string backend_unavailable(const std::string& name);
// That backend, or null with *error set to backend_unavailable's reason.
std::unique_ptr<Backend> make_backend(const std::string& name, std::string* error);

// Bytes of a backend, released with their owner. The backend must outlive the buffer.
class Buffer {
 public:
  Buffer() = default;
  Buffer(Backend& backend, size_t bytes) : backend_(&backend), ptr_(backend.allocate(bytes)) {}
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
  Buffer(Buffer&& o) noexcept : backend_(o.backend_), ptr_(o.ptr_) { o.ptr_ = nullptr; }
  Buffer& operator=(Buffer&& o) noexcept {
    if (this != &o) {
      reset();
      backend_ = o.backend_;
      ptr_ = o.ptr_;
      o.ptr_ = nullptr;
    }
    return *this;
  }
  ~Buffer() { reset(); }

  void reset() {
    if (ptr_ != nullptr) backend_->release(ptr_);
    ptr_ = nullptr;
  }
  float* floats() const { return static_cast<float*>(ptr_); }
  int32_t* ints() const { return static_cast<int32_t*>(ptr_); }

 private:
  Backend* backend_ = nullptr;
  void* ptr_ = nullptr;
};
