// The training engine as a JS class `addon.Model` (wrapped by native/index.ts, which is the API).
// Heavy calls (logits, accumulate, evalLoss, step, generate) run on the libuv pool as AsyncWorkers
// and return promises, so the JS thread stays free for progress output and Ctrl-C. One call at a
// time per model: a second call while one runs is refused (index.ts queues calls).
#include <napi.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "cpu/parallel.h"
#include "model/backend.h"
#include "model/model.h"

namespace {

// The thread pool is one per process and its size is set per job: jobs of different models (say a
// training and an evaluation model) take turns instead of resizing it under each other.
std::mutex engine_mutex;

Napi::Value throw_error(Napi::Env env, const std::string& message) {
  Napi::Error::New(env, message).ThrowAsJavaScriptException();
  return env.Undefined();
}

// Reads a field of the config object; records the first problem in `error`.
struct ConfigReader {
  Napi::Object obj;
  std::string error;

  double number(const char* key) {
    Napi::Value v = obj.Get(key);
    if (!v.IsNumber()) {
      if (error.empty()) error = std::string("config.") + key + ": expected a number";
      return 0;
    }
    return v.As<Napi::Number>().DoubleValue();
  }
  int integer(const char* key) {
    double d = number(key);
    if (d != std::floor(d) || d < 0 || d > 1e9) {
      if (error.empty()) error = std::string("config.") + key + ": expected a non-negative integer";
      return 0;
    }
    return static_cast<int>(d);
  }
  bool boolean(const char* key) {
    Napi::Value v = obj.Get(key);
    if (!v.IsBoolean()) {
      if (error.empty()) error = std::string("config.") + key + ": expected a boolean";
      return false;
    }
    return v.As<Napi::Boolean>().Value();
  }
  std::vector<float> floats(const char* key) {
    Napi::Value v = obj.Get(key);
    if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array) {
      if (error.empty()) error = std::string("config.") + key + ": expected a Float32Array";
      return {};
    }
    Napi::Float32Array a = v.As<Napi::Float32Array>();
    return std::vector<float>(a.Data(), a.Data() + a.ElementLength());
  }
};

// A typed array argument copied out of the JS heap, so worker threads never touch JS memory.
template <typename T, napi_typedarray_type Type>
bool copy_array(const Napi::CallbackInfo& info, size_t i, const char* what, std::vector<T>& out, std::string& error) {
  if (!error.empty()) return false;
  if (i >= info.Length() || !info[i].IsTypedArray() || info[i].As<Napi::TypedArray>().TypedArrayType() != Type) {
    error = std::string(what) + ": expected a " + (Type == napi_int32_array ? "Int32Array" : "Float32Array");
    return false;
  }
  Napi::TypedArrayOf<T> a = info[i].As<Napi::TypedArrayOf<T>>();
  out.assign(a.Data(), a.Data() + a.ElementLength());
  return true;
}

double number_arg(const Napi::CallbackInfo& info, size_t i, const char* what, std::string& error) {
  if (!error.empty()) return 0;
  if (i >= info.Length() || !info[i].IsNumber()) {
    error = std::string(what) + ": expected a number";
    return 0;
  }
  return info[i].As<Napi::Number>().DoubleValue();
}

struct BatchArgs {
  std::vector<int32_t> ids, labels, pos, cu;
};

class ModelWrap;

// Runs `work` off the JS thread and settles a promise with `result` (or the error `work` returned).
class Job : public Napi::AsyncWorker {
 public:
  Job(Napi::Env env, ModelWrap* owner, Napi::Object self, std::function<std::string()> work,
      std::function<Napi::Value(Napi::Env)> result);
  Napi::Promise promise() { return deferred_.Promise(); }
  void Execute() override;
  void OnOK() override;
  void OnError(const Napi::Error& e) override;

 private:
  ModelWrap* owner_;
  Napi::ObjectReference self_;  // keeps the model alive while the job runs
  Napi::Promise::Deferred deferred_;
  std::function<std::string()> work_;
  std::function<Napi::Value(Napi::Env)> result_;
};

class ModelWrap : public Napi::ObjectWrap<ModelWrap> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "Model",
                       {
                           InstanceMethod("slots", &ModelWrap::Slots),
                           InstanceMethod("setTensor", &ModelWrap::SetTensor),
                           InstanceMethod("getTensor", &ModelWrap::GetTensor),
                           InstanceMethod("getStep", &ModelWrap::GetStep),
                           InstanceMethod("setStep", &ModelWrap::SetStep),
                           InstanceMethod("getRng", &ModelWrap::GetRng),
                           InstanceMethod("setRng", &ModelWrap::SetRng),
                           InstanceMethod("logits", &ModelWrap::Logits),
                           InstanceMethod("accumulate", &ModelWrap::Accumulate),
                           InstanceMethod("evalLoss", &ModelWrap::EvalLoss),
                           InstanceMethod("step", &ModelWrap::Step),
                           InstanceMethod("generate", &ModelWrap::Generate),
                       });
  }

  // new Model(config, threads, recompute, backend)
  ModelWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<ModelWrap>(info) {
    Napi::Env env = info.Env();
    if (info.Length() < 4 || !info[0].IsObject() || !info[1].IsNumber() || !info[2].IsBoolean() || !info[3].IsString()) {
      throw_error(env, "new Model(config, threads, recompute, backend): bad arguments");
      return;
    }
    ConfigReader r{info[0].As<Napi::Object>(), ""};
    ModelConfig c;
    c.V = r.integer("vocabSize");
    c.C = r.integer("hiddenSize");
    c.F = r.integer("intermediateSize");
    c.L = r.integer("numLayers");
    c.H = r.integer("numHeads");
    c.KVH = r.integer("numKvHeads");
    c.D = r.integer("headDim");
    c.eps = static_cast<float>(r.number("rmsNormEps"));
    c.tied = r.boolean("tieWordEmbeddings");
    c.qkv_bias = r.boolean("qkvBias");
    c.qk_norm = r.boolean("qkNorm");
    c.inv_freq = r.floats("invFreq");
    c.attention_scaling = static_cast<float>(r.number("ropeAttentionScaling"));
    if (r.error.empty()) r.error = validate_config(c);
    if (!r.error.empty()) {
      throw_error(env, "model config: " + r.error);
      return;
    }
    double threads = info[1].As<Napi::Number>().DoubleValue();
    threads_ = threads >= 1 && threads <= 1024 ? static_cast<int>(threads) : 1;
    std::string why;
    std::unique_ptr<Backend> backend = make_backend(info[3].As<Napi::String>().Utf8Value(), &why);
    if (backend == nullptr) {
      throw_error(env, why);
      return;
    }
    model_ = std::make_unique<Model>(std::move(c), info[2].As<Napi::Boolean>().Value(), std::move(backend));
  }

  Model& model() { return *model_; }
  int threads() const { return threads_; }
  void set_busy(bool b) { busy_ = b; }

 private:
  bool refuse_if_busy(Napi::Env env) {
    if (!busy_) return false;
    throw_error(env, "the model is busy with another call; await it first");
    return true;
  }

  // A slot by kind ("param", "grad", "m", "v") and HF name, or null after throwing.
  const TensorSlot* slot_of(Napi::Env env, const Napi::Value& kind, const Napi::Value& name, TensorKind* k) {
    if (!kind.IsString() || !name.IsString()) {
      throw_error(env, "expected (kind: string, name: string)");
      return nullptr;
    }
    const std::string ks = kind.As<Napi::String>().Utf8Value(), n = name.As<Napi::String>().Utf8Value();
    const TensorSlot* slot = model_->find(n);
    if (slot == nullptr) {
      throw_error(env, "unknown tensor " + n);
      return nullptr;
    }
    if (ks == "param") *k = TensorKind::param;
    else if (ks == "grad") *k = TensorKind::grad;
    else if (ks == "m") *k = TensorKind::m;
    else if (ks == "v") *k = TensorKind::v;
    else {
      throw_error(env, "unknown tensor kind " + ks + " (expected param, grad, m or v)");
      return nullptr;
    }
    return slot;
  }

  Napi::Value Slots(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    const auto& slots = model_->slots();
    Napi::Array out = Napi::Array::New(env, slots.size());
    for (size_t i = 0; i < slots.size(); i++) {
      Napi::Object o = Napi::Object::New(env);
      o.Set("name", slots[i].name);
      Napi::Array shape = Napi::Array::New(env, slots[i].shape.size());
      for (size_t j = 0; j < slots[i].shape.size(); j++) shape.Set(j, slots[i].shape[j]);
      o.Set("shape", shape);
      o.Set("decay", slots[i].decay);
      out.Set(i, o);
    }
    return out;
  }

  // setTensor(kind, name, data: Float32Array)
  Napi::Value SetTensor(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (refuse_if_busy(env)) return env.Undefined();
    TensorKind kind;
    const TensorSlot* slot = slot_of(env, info[0], info[1], &kind);
    if (slot == nullptr) return env.Undefined();
    if (!info[2].IsTypedArray() || info[2].As<Napi::TypedArray>().TypedArrayType() != napi_float32_array)
      return throw_error(env, slot->name + ": expected a Float32Array");
    Napi::Float32Array a = info[2].As<Napi::Float32Array>();
    if (static_cast<int64_t>(a.ElementLength()) != slot->numel)
      return throw_error(env, slot->name + ": expected " + std::to_string(slot->numel) + " values, got " +
                                  std::to_string(a.ElementLength()));
    model_->write_tensor(kind, *slot, a.Data());
    return env.Undefined();
  }

  // getTensor(kind, name) -> Float32Array (a copy)
  Napi::Value GetTensor(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (refuse_if_busy(env)) return env.Undefined();
    TensorKind kind;
    const TensorSlot* slot = slot_of(env, info[0], info[1], &kind);
    if (slot == nullptr) return env.Undefined();
    Napi::Float32Array a = Napi::Float32Array::New(env, slot->numel);
    model_->read_tensor(kind, *slot, a.Data());
    return a;
  }

  Napi::Value GetStep(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), model_->step_count); }

  Napi::Value SetStep(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (refuse_if_busy(env)) return env.Undefined();
    if (!info[0].IsNumber()) return throw_error(env, "setStep: expected a number");
    double s = info[0].As<Napi::Number>().DoubleValue();
    if (s < 0 || s != std::floor(s) || s > 2e9) return throw_error(env, "setStep: expected a non-negative integer");
    model_->step_count = static_cast<int>(s);
    return env.Undefined();
  }

  // The xoshiro256** state as 8 uint32 words, low word first.
  Napi::Value GetRng(const Napi::CallbackInfo& info) {
    Napi::Uint32Array a = Napi::Uint32Array::New(info.Env(), 8);
    for (int i = 0; i < 4; i++) {
      a[2 * i] = static_cast<uint32_t>(model_->rng[i]);
      a[2 * i + 1] = static_cast<uint32_t>(model_->rng[i] >> 32);
    }
    return a;
  }

  Napi::Value SetRng(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (refuse_if_busy(env)) return env.Undefined();
    if (!info[0].IsTypedArray() || info[0].As<Napi::TypedArray>().TypedArrayType() != napi_uint32_array ||
        info[0].As<Napi::Uint32Array>().ElementLength() != 8)
      return throw_error(env, "setRng: expected a Uint32Array of 8 words");
    Napi::Uint32Array a = info[0].As<Napi::Uint32Array>();
    for (int i = 0; i < 4; i++) model_->rng[i] = static_cast<uint64_t>(a[2 * i]) | static_cast<uint64_t>(a[2 * i + 1]) << 32;
    return env.Undefined();
  }

  // Reads (inputIds, labels, positionIds, cuSeqlens) starting at argument 0; labels are skipped when
  // with_labels is false. Returns "" or what is wrong.
  std::string read_batch(const Napi::CallbackInfo& info, bool with_labels, BatchArgs& b) {
    std::string error;
    size_t i = 0;
    copy_array<int32_t, napi_int32_array>(info, i++, "inputIds", b.ids, error);
    if (with_labels) copy_array<int32_t, napi_int32_array>(info, i++, "labels", b.labels, error);
    copy_array<int32_t, napi_int32_array>(info, i++, "positionIds", b.pos, error);
    copy_array<int32_t, napi_int32_array>(info, i++, "cuSeqlens", b.cu, error);
    if (!error.empty()) return error;
    const size_t N = b.ids.size();
    if ((with_labels && b.labels.size() != N) || b.pos.size() != N)
      return "inputIds, labels and positionIds must have the same length";
    if (N > static_cast<size_t>(INT32_MAX)) return "batch too large";
    return model_->validate_batch(b.ids.data(), with_labels ? b.labels.data() : nullptr, b.pos.data(), b.cu.data(),
                                  static_cast<int>(b.cu.size()) - 1, static_cast<int>(N));
  }

  Napi::Value start(Napi::Env env, std::function<std::string()> work, std::function<Napi::Value(Napi::Env)> result) {
    if (refuse_if_busy(env)) return env.Undefined();
    busy_ = true;
    Job* job = new Job(env, this, Value(), std::move(work), std::move(result));
    Napi::Promise p = job->promise();
    job->Queue();
    return p;
  }

  // logits(inputIds, positionIds, cuSeqlens) -> Promise<Float32Array (N*V)>
  Napi::Value Logits(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    auto b = std::make_shared<BatchArgs>();
    std::string error = read_batch(info, false, *b);
    if (!error.empty()) return throw_error(env, "logits: " + error);
    const int N = static_cast<int>(b->ids.size());
    auto out = std::make_shared<std::vector<float>>(static_cast<size_t>(N) * model_->config().V);
    return start(
        env,
        [this, b, out, N] {
          model_->logits(out->data(), b->ids.data(), b->pos.data(), b->cu.data(), static_cast<int>(b->cu.size()) - 1, N);
          return std::string();
        },
        [out](Napi::Env env) {
          Napi::Float32Array a = Napi::Float32Array::New(env, out->size());
          std::memcpy(a.Data(), out->data(), sizeof(float) * out->size());
          return a;
        });
  }

  Napi::Value loss_call(const Napi::CallbackInfo& info, bool train) {
    Napi::Env env = info.Env();
    const char* name = train ? "accumulate" : "evalLoss";
    auto b = std::make_shared<BatchArgs>();
    std::string error = read_batch(info, true, *b);
    if (!error.empty()) return throw_error(env, std::string(name) + ": " + error);
    const int N = static_cast<int>(b->ids.size());
    auto loss = std::make_shared<double>(0);
    auto tokens = std::make_shared<int64_t>(0);
    auto correct = std::make_shared<int64_t>(0);
    return start(
        env,
        [this, b, N, loss, tokens, correct, train] {
          const int ndocs = static_cast<int>(b->cu.size()) - 1;
          *loss = train ? model_->accumulate(tokens.get(), b->ids.data(), b->labels.data(), b->pos.data(), b->cu.data(), ndocs, N)
                        : model_->eval_loss(tokens.get(), correct.get(), b->ids.data(), b->labels.data(), b->pos.data(),
                                            b->cu.data(), ndocs, N);
          if (!std::isfinite(*loss))
            return (train ? "step " + std::to_string(model_->step_count + 1) + ": " : std::string("evaluation: ")) +
                   "the loss is not finite (" + std::to_string(*loss) + ")";
          return std::string();
        },
        [loss, tokens, correct, train](Napi::Env env) {
          Napi::Object o = Napi::Object::New(env);
          o.Set("lossSum", *loss);
          o.Set("tokens", static_cast<double>(*tokens));
          if (!train) o.Set("correct", static_cast<double>(*correct));
          return o;
        });
  }

  Napi::Value Accumulate(const Napi::CallbackInfo& info) { return loss_call(info, true); }
  Napi::Value EvalLoss(const Napi::CallbackInfo& info) { return loss_call(info, false); }

  // step(tokensInStep, lr, beta1, beta2, eps, weightDecay, maxGradNorm) -> Promise<{ gradNorm }>
  Napi::Value Step(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    std::string error;
    const char* names[] = {"tokensInStep", "lr", "beta1", "beta2", "eps", "weightDecay", "maxGradNorm"};
    double a[7];
    for (size_t i = 0; i < 7; i++) {
      a[i] = number_arg(info, i, names[i], error);
      if (error.empty() && !std::isfinite(a[i])) error = std::string(names[i]) + ": expected a finite number";
    }
    if (error.empty() && !(a[0] > 0)) error = "tokensInStep must be positive (no trained tokens in this step)";
    if (!error.empty()) return throw_error(env, "step: " + error);
    auto norm = std::make_shared<double>(0);
    return start(
        env,
        [this, a0 = a[0], lr = a[1], b1 = a[2], b2 = a[3], eps = a[4], wd = a[5], clip = a[6], norm] {
          *norm = model_->step(a0, lr, b1, b2, eps, wd, clip);
          if (!std::isfinite(*norm))
            return "step " + std::to_string(model_->step_count + 1) + ": the gradient norm is not finite (" +
                   std::to_string(*norm) + "); parameters left unchanged";
          return std::string();
        },
        [norm](Napi::Env env) {
          Napi::Object o = Napi::Object::New(env);
          o.Set("gradNorm", *norm);
          return o;
        });
  }

  // generate(prompt, maxNewTokens, temperature, topP, stopTokens, seed) -> Promise<Int32Array>
  Napi::Value Generate(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    std::string error;
    auto prompt = std::make_shared<std::vector<int32_t>>();
    auto stop = std::make_shared<std::vector<int32_t>>();
    copy_array<int32_t, napi_int32_array>(info, 0, "prompt", *prompt, error);
    double max_new = number_arg(info, 1, "maxNewTokens", error);
    double temperature = number_arg(info, 2, "temperature", error);
    double top_p = number_arg(info, 3, "topP", error);
    copy_array<int32_t, napi_int32_array>(info, 4, "stopTokens", *stop, error);
    double seed = number_arg(info, 5, "seed", error);
    if (error.empty() && prompt->empty()) error = "prompt: expected at least one token";
    if (error.empty() && (max_new < 0 || max_new != std::floor(max_new) || max_new > 1e6))
      error = "maxNewTokens: expected a non-negative integer";
    if (error.empty() && !(temperature >= 0)) error = "temperature: expected a number >= 0";
    if (error.empty() && !(top_p > 0 && top_p <= 1)) error = "topP: expected a number in (0, 1]";
    if (error.empty() && !(seed >= 0 && seed == std::floor(seed) && seed <= 9007199254740991.0))
      error = "seed: expected a non-negative integer";
    if (error.empty()) {
      const int V = model_->config().V;
      for (size_t i = 0; i < prompt->size() && error.empty(); i++)
        if ((*prompt)[i] < 0 || (*prompt)[i] >= V)
          error = "prompt[" + std::to_string(i) + "] = " + std::to_string((*prompt)[i]) + " is outside the vocabulary";
    }
    if (!error.empty()) return throw_error(env, "generate: " + error);
    auto out = std::make_shared<std::vector<int32_t>>();
    return start(
        env,
        [this, prompt, stop, out, n = static_cast<int>(max_new), t = static_cast<float>(temperature),
         p = static_cast<float>(top_p), s = static_cast<uint64_t>(seed)] {
          model_->seed_rng(s);
          *out = model_->generate(*prompt, n, t, p, *stop);
          return std::string();
        },
        [out](Napi::Env env) {
          Napi::Int32Array a = Napi::Int32Array::New(env, out->size());
          if (!out->empty()) std::memcpy(a.Data(), out->data(), sizeof(int32_t) * out->size());
          return a;
        });
  }

  std::unique_ptr<Model> model_;
  int threads_ = 1;
  bool busy_ = false;
};

Job::Job(Napi::Env env, ModelWrap* owner, Napi::Object self, std::function<std::string()> work,
         std::function<Napi::Value(Napi::Env)> result)
    : Napi::AsyncWorker(env, "sft_native.Model"),
      owner_(owner),
      self_(Napi::Persistent(self)),
      deferred_(Napi::Promise::Deferred::New(env)),
      work_(std::move(work)),
      result_(std::move(result)) {}

void Job::Execute() {
  std::lock_guard<std::mutex> lock(engine_mutex);
  try {
    set_num_threads(owner_->threads());
    std::string error = work_();
    if (!error.empty()) SetError(error);
  } catch (const std::bad_alloc&) {
    SetError("out of memory");
  } catch (const std::exception& e) {
    SetError(e.what());
  }
}

void Job::OnOK() {
  owner_->set_busy(false);
  deferred_.Resolve(result_(Env()));
}

void Job::OnError(const Napi::Error& e) {
  owner_->set_busy(false);
  deferred_.Reject(e.Value());
}

// backendUnavailable(name) -> "" when it can run here, else why not
Napi::Value BackendUnavailable(const Napi::CallbackInfo& info) {
  if (!info[0].IsString()) return throw_error(info.Env(), "backendUnavailable(name: string)");
  return Napi::String::New(info.Env(), backend_unavailable(info[0].As<Napi::String>().Utf8Value()));
}

}  // namespace

Napi::Object InitModel(Napi::Env env, Napi::Object exports) {
  exports.Set("Model", ModelWrap::Define(env));
  exports.Set("backendUnavailable", Napi::Function::New(env, BackendUnavailable));
  return exports;
}
