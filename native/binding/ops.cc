// Test-only binding: every kernel of native/cpu on typed arrays, as `addon.ops.<name>` with the C argument order.
// Sizes are checked against the shape arguments so a wrong call is a JS error, not an out-of-bounds access.
#include <napi.h>

#include <cstdint>
#include <string>

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

namespace {

// Reads arguments in order and remembers the first problem; callers check ok() before running a kernel.
class Args {
 public:
  Args(const Napi::CallbackInfo& info, const char* op) : info_(info), op_(op) {}

  float* f32(int i, int64_t length, bool nullable = false) { return typed<float>(i, length, nullable, napi_float32_array, "Float32Array"); }
  int32_t* i32(int i, int64_t length) { return typed<int32_t>(i, length, false, napi_int32_array, "Int32Array"); }

  int64_t num(int i) {
    if (!error_.empty()) return 0;
    if (i >= static_cast<int>(info_.Length()) || !info_[i].IsNumber()) {
      fail(i, "a number");
      return 0;
    }
    double d = info_[i].As<Napi::Number>().DoubleValue();
    if (d != static_cast<double>(static_cast<int64_t>(d)) || d < 0) {
      fail(i, "a non-negative integer");
      return 0;
    }
    return static_cast<int64_t>(d);
  }

  double real(int i) {
    if (!error_.empty()) return 0;
    if (i >= static_cast<int>(info_.Length()) || !info_[i].IsNumber()) {
      fail(i, "a number");
      return 0;
    }
    return info_[i].As<Napi::Number>().DoubleValue();
  }

  bool flag(int i) {
    if (!error_.empty()) return false;
    if (i >= static_cast<int>(info_.Length()) || !info_[i].IsBoolean()) {
      fail(i, "a boolean");
      return false;
    }
    return info_[i].As<Napi::Boolean>().Value();
  }

  void require(bool condition, const std::string& message) {
    if (error_.empty() && !condition) error_ = std::string(op_) + ": " + message;
  }

  // True when all arguments were fine; otherwise throws the recorded error into JS.
  bool ok() {
    if (error_.empty()) return true;
    Napi::TypeError::New(info_.Env(), error_).ThrowAsJavaScriptException();
    return false;
  }

 private:
  template <typename T>
  T* typed(int i, int64_t length, bool nullable, napi_typedarray_type type, const char* type_name) {
    if (!error_.empty()) return nullptr;
    if (i >= static_cast<int>(info_.Length())) {
      fail(i, type_name);
      return nullptr;
    }
    Napi::Value value = info_[i];
    if (nullable && (value.IsNull() || value.IsUndefined())) return nullptr;
    if (!value.IsTypedArray() || value.As<Napi::TypedArray>().TypedArrayType() != type) {
      fail(i, type_name);
      return nullptr;
    }
    auto array = value.As<Napi::TypedArray>();
    if (static_cast<int64_t>(array.ElementLength()) != length) {
      error_ = std::string(op_) + ": argument " + std::to_string(i) + " has " + std::to_string(array.ElementLength()) +
               " elements, expected " + std::to_string(length);
      return nullptr;
    }
    auto* base = static_cast<uint8_t*>(array.ArrayBuffer().Data());
    return reinterpret_cast<T*>(base + array.ByteOffset());
  }

  void fail(int i, const char* expected) {
    error_ = std::string(op_) + ": argument " + std::to_string(i) + " must be " + expected;
  }

  const Napi::CallbackInfo& info_;
  const char* op_;
  std::string error_;
};

int64_t elements_of(const Napi::Value& value) {
  return value.IsTypedArray() ? static_cast<int64_t>(value.As<Napi::TypedArray>().ElementLength()) : -1;
}

// Largest index a strided (rows x cols) operand touches, plus one.
int64_t span(int64_t rows, int64_t cols, int64_t rs, int64_t cs) {
  return rows == 0 || cols == 0 ? 0 : (rows - 1) * rs + (cols - 1) * cs + 1;
}

Napi::Value SetNumThreads(const Napi::CallbackInfo& info) {
  Args a(info, "set_num_threads");
  int64_t n = a.num(0);
  a.require(n >= 1 && n <= 256, "thread count must be in [1, 256]");
  if (a.ok()) set_num_threads(static_cast<int>(n));
  return info.Env().Undefined();
}

Napi::Value GetNumThreads(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), get_num_threads()); }

template <bool Naive>
Napi::Value Sgemm(const Napi::CallbackInfo& info) {
  Args a(info, Naive ? "sgemm_naive" : "sgemm");
  int64_t M = a.num(0), N = a.num(1), K = a.num(2);
  int64_t rsa = a.num(4), csa = a.num(5), rsb = a.num(7), csb = a.num(8), ldc = a.num(10);
  bool accumulate = a.flag(11);
  a.require(ldc >= N, "ldc must be at least N");
  float* A = a.f32(3, elements_of(info[3]));
  float* B = a.f32(6, elements_of(info[6]));
  float* C = a.f32(9, elements_of(info[9]));
  a.require(elements_of(info[3]) >= span(M, K, rsa, csa), "A is too small for its strides");
  a.require(elements_of(info[6]) >= span(K, N, rsb, csb), "B is too small for its strides");
  a.require(elements_of(info[9]) >= span(M, N, ldc, 1), "C is too small");
  if (!a.ok()) return info.Env().Undefined();
  auto f = Naive ? sgemm_naive : sgemm;
  f(static_cast<int>(M), static_cast<int>(N), static_cast<int>(K), A, rsa, csa, B, rsb, csb, C, ldc, accumulate);
  return info.Env().Undefined();
}

bool ids_in_range(const int32_t* ids, int64_t n, int64_t V, bool allow_ignore) {
  for (int64_t i = 0; i < n; i++)
    if (!((ids[i] >= 0 && ids[i] < V) || (allow_ignore && ids[i] == -100))) return false;
  return true;
}

Napi::Value EmbeddingForward(const Napi::CallbackInfo& info) {
  Args a(info, "embedding_forward");
  int64_t N = a.num(3), C = a.num(4);
  int64_t V = C > 0 ? elements_of(info[2]) / C : 0;
  float* out = a.f32(0, N * C);
  int32_t* ids = a.i32(1, N);
  float* wte = a.f32(2, V * C);
  a.require(ids == nullptr || ids_in_range(ids, N, V, false), "ids must be in [0, V)");
  if (a.ok()) embedding_forward(out, ids, wte, N, C);
  return info.Env().Undefined();
}

Napi::Value EmbeddingBackward(const Napi::CallbackInfo& info) {
  Args a(info, "embedding_backward");
  int64_t N = a.num(3), C = a.num(4);
  int64_t V = C > 0 ? elements_of(info[0]) / C : 0;
  float* dwte = a.f32(0, V * C);
  float* dout = a.f32(1, N * C);
  int32_t* ids = a.i32(2, N);
  a.require(ids == nullptr || ids_in_range(ids, N, V, false), "ids must be in [0, V)");
  if (a.ok()) embedding_backward(dwte, dout, ids, N, C);
  return info.Env().Undefined();
}

Napi::Value RmsnormForward(const Napi::CallbackInfo& info) {
  Args a(info, "rmsnorm_forward");
  int64_t N = a.num(4), C = a.num(5);
  double eps = a.real(6);
  float* out = a.f32(0, N * C);
  float* rstd = a.f32(1, N);
  float* inp = a.f32(2, N * C);
  float* weight = a.f32(3, C);
  if (a.ok()) rmsnorm_forward(out, rstd, inp, weight, N, C, static_cast<float>(eps));
  return info.Env().Undefined();
}

Napi::Value RmsnormBackward(const Napi::CallbackInfo& info) {
  Args a(info, "rmsnorm_backward");
  int64_t N = a.num(6), C = a.num(7);
  float* dinp = a.f32(0, N * C);
  float* dweight = a.f32(1, C);
  float* dout = a.f32(2, N * C);
  float* inp = a.f32(3, N * C);
  float* weight = a.f32(4, C);
  float* rstd = a.f32(5, N);
  bool accumulate = a.flag(8);
  if (a.ok()) rmsnorm_backward(dinp, dweight, dout, inp, weight, rstd, N, C, accumulate);
  return info.Env().Undefined();
}

Napi::Value MatmulForward(const Napi::CallbackInfo& info) {
  Args a(info, "matmul_forward");
  int64_t N = a.num(4), C = a.num(5), OC = a.num(6);
  float* out = a.f32(0, N * OC);
  float* inp = a.f32(1, N * C);
  float* weight = a.f32(2, OC * C);
  float* bias = a.f32(3, OC, true);
  if (a.ok()) matmul_forward(out, inp, weight, bias, N, C, OC);
  return info.Env().Undefined();
}

Napi::Value MatmulBackward(const Napi::CallbackInfo& info) {
  Args a(info, "matmul_backward");
  int64_t N = a.num(6), C = a.num(7), OC = a.num(8);
  float* dinp = a.f32(0, N * C, true);
  float* dweight = a.f32(1, OC * C);
  float* dbias = a.f32(2, OC, true);
  float* dout = a.f32(3, N * OC);
  float* inp = a.f32(4, N * C);
  float* weight = a.f32(5, OC * C);
  bool accumulate = a.flag(9);
  if (a.ok()) matmul_backward(dinp, dweight, dbias, dout, inp, weight, N, C, OC, accumulate);
  return info.Env().Undefined();
}

Napi::Value Rope(const Napi::CallbackInfo& info, bool backward) {
  Args a(info, backward ? "rope_backward" : "rope_forward");
  double scaling = a.real(4);
  int64_t N = a.num(5), NH = a.num(6), D = a.num(7);
  a.require(D % 2 == 0, "D must be even");
  float* out = a.f32(0, N * NH * D);
  float* inp = a.f32(1, N * NH * D);
  int32_t* pos = a.i32(2, N);
  float* inv_freq = a.f32(3, D / 2);
  if (!a.ok()) return info.Env().Undefined();
  auto f = backward ? rope_backward : rope_forward;
  f(out, inp, pos, inv_freq, static_cast<float>(scaling), N, NH, D);
  return info.Env().Undefined();
}

Napi::Value RopeForward(const Napi::CallbackInfo& info) { return Rope(info, false); }
Napi::Value RopeBackward(const Napi::CallbackInfo& info) { return Rope(info, true); }

// cu_seqlens must start at 0, never decrease and end at N.
bool valid_cu_seqlens(const int32_t* cu, int64_t ndocs, int64_t N) {
  if (cu[0] != 0 || cu[ndocs] != N) return false;
  for (int64_t i = 0; i < ndocs; i++)
    if (cu[i + 1] < cu[i]) return false;
  return true;
}

Napi::Value AttentionForward(const Napi::CallbackInfo& info) {
  Args a(info, "attention_forward");
  int64_t ndocs = a.num(6), N = a.num(7), H = a.num(8), KVH = a.num(9), D = a.num(10);
  a.require(KVH > 0 && H % KVH == 0, "H must be a multiple of KVH");
  float* out = a.f32(0, N * H * D);
  float* lse = a.f32(1, N * H);
  float* q = a.f32(2, N * H * D);
  float* k = a.f32(3, N * KVH * D);
  float* v = a.f32(4, N * KVH * D);
  int32_t* cu = a.i32(5, ndocs + 1);
  a.require(cu == nullptr || valid_cu_seqlens(cu, ndocs, N), "cu_seqlens must rise from 0 to N");
  if (a.ok()) attention_forward(out, lse, q, k, v, cu, ndocs, N, H, KVH, D);
  return info.Env().Undefined();
}

Napi::Value AttentionBackward(const Napi::CallbackInfo& info) {
  Args a(info, "attention_backward");
  int64_t ndocs = a.num(10), N = a.num(11), H = a.num(12), KVH = a.num(13), D = a.num(14);
  a.require(KVH > 0 && H % KVH == 0, "H must be a multiple of KVH");
  float* dq = a.f32(0, N * H * D);
  float* dk = a.f32(1, N * KVH * D);
  float* dv = a.f32(2, N * KVH * D);
  float* dout = a.f32(3, N * H * D);
  float* q = a.f32(4, N * H * D);
  float* k = a.f32(5, N * KVH * D);
  float* v = a.f32(6, N * KVH * D);
  float* out = a.f32(7, N * H * D);
  float* lse = a.f32(8, N * H);
  int32_t* cu = a.i32(9, ndocs + 1);
  a.require(cu == nullptr || valid_cu_seqlens(cu, ndocs, N), "cu_seqlens must rise from 0 to N");
  if (a.ok()) attention_backward(dq, dk, dv, dout, q, k, v, out, lse, cu, ndocs, N, H, KVH, D);
  return info.Env().Undefined();
}

Napi::Value SwigluForward(const Napi::CallbackInfo& info) {
  Args a(info, "swiglu_forward");
  int64_t N = a.num(3), F = a.num(4);
  float* out = a.f32(0, N * F);
  float* gate = a.f32(1, N * F);
  float* up = a.f32(2, N * F);
  if (a.ok()) swiglu_forward(out, gate, up, N, F);
  return info.Env().Undefined();
}

Napi::Value SwigluBackward(const Napi::CallbackInfo& info) {
  Args a(info, "swiglu_backward");
  int64_t N = a.num(5), F = a.num(6);
  float* dgate = a.f32(0, N * F);
  float* dup = a.f32(1, N * F);
  float* dout = a.f32(2, N * F);
  float* gate = a.f32(3, N * F);
  float* up = a.f32(4, N * F);
  if (a.ok()) swiglu_backward(dgate, dup, dout, gate, up, N, F);
  return info.Env().Undefined();
}

Napi::Value FusedLinearCrossEntropy(const Napi::CallbackInfo& info) {
  Args a(info, "fused_linear_cross_entropy");
  int64_t N = a.num(5), C = a.num(6), V = a.num(7);
  double scale = a.real(8);
  float* dinp = a.f32(0, N * C);
  float* dweight = a.f32(1, V * C);
  float* inp = a.f32(2, N * C);
  float* weight = a.f32(3, V * C);
  int32_t* target = a.i32(4, N);
  if (!a.ok()) return info.Env().Undefined();
  double loss = fused_linear_cross_entropy(dinp, dweight, inp, weight, target, N, C, V, static_cast<float>(scale));
  return Napi::Number::New(info.Env(), loss);
}

Napi::Value LinearCrossEntropyLoss(const Napi::CallbackInfo& info) {
  Args a(info, "linear_cross_entropy_loss");
  int64_t N = a.num(3), C = a.num(4), V = a.num(5);
  float* inp = a.f32(0, N * C);
  float* weight = a.f32(1, V * C);
  int32_t* target = a.i32(2, N);
  if (!a.ok()) return info.Env().Undefined();
  int64_t correct = 0;
  const double loss = linear_cross_entropy_loss(inp, weight, target, N, C, V, &correct);
  Napi::Object out = Napi::Object::New(info.Env());
  out.Set("lossSum", loss);
  out.Set("correct", static_cast<double>(correct));
  return out;
}

Napi::Value AdamwUpdate(const Napi::CallbackInfo& info) {
  Args a(info, "adamw_update");
  int64_t n = a.num(4);
  double lr = a.real(5), beta1 = a.real(6), beta2 = a.real(7), eps = a.real(8), wd = a.real(9);
  double grad_scale = a.real(10);
  int64_t step = a.num(11);
  a.require(step >= 1, "step is 1-based");
  float* param = a.f32(0, n);
  float* m = a.f32(1, n);
  float* v = a.f32(2, n);
  float* grad = a.f32(3, n);
  if (a.ok())
    adamw_update(param, m, v, grad, n, lr, beta1, beta2, eps, wd, static_cast<float>(grad_scale), static_cast<int>(step));
  return info.Env().Undefined();
}

Napi::Value SumSquares(const Napi::CallbackInfo& info) {
  Args a(info, "sum_squares");
  int64_t n = a.num(1);
  float* x = a.f32(0, n);
  if (!a.ok()) return info.Env().Undefined();
  return Napi::Number::New(info.Env(), sum_squares(x, n));
}

}  // namespace

Napi::Object InitOps(Napi::Env env, Napi::Object exports) {
  Napi::Object ops = Napi::Object::New(env);
  auto add = [&](const char* name, Napi::Value (*fn)(const Napi::CallbackInfo&)) {
    ops.Set(name, Napi::Function::New(env, fn, name));
  };
  add("set_num_threads", SetNumThreads);
  add("get_num_threads", GetNumThreads);
  add("sgemm", Sgemm<false>);
  add("sgemm_naive", Sgemm<true>);
  add("embedding_forward", EmbeddingForward);
  add("embedding_backward", EmbeddingBackward);
  add("rmsnorm_forward", RmsnormForward);
  add("rmsnorm_backward", RmsnormBackward);
  add("matmul_forward", MatmulForward);
  add("matmul_backward", MatmulBackward);
  add("rope_forward", RopeForward);
  add("rope_backward", RopeBackward);
  add("attention_forward", AttentionForward);
  add("attention_backward", AttentionBackward);
  add("swiglu_forward", SwigluForward);
  add("swiglu_backward", SwigluBackward);
  add("fused_linear_cross_entropy", FusedLinearCrossEntropy);
  add("linear_cross_entropy_loss", LinearCrossEntropyLoss);
  add("adamw_update", AdamwUpdate);
  add("sum_squares", SumSquares);
  exports.Set("ops", ops);
  return exports;
}
