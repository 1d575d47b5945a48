// `addon.cuda`: whether a CUDA driver and GPU are usable (probe), the launcher's argument packing
// against a manifest entry (packArgs, testable on any machine), and one kernel of the AOT library
// run on the device with host buffers copied in and out (runKernel, for device checks).
#include <napi.h>

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "cuda/driver.h"
#include "cuda/launcher.h"

namespace {

Napi::Value fail(Napi::Env env, const std::string& message) {
  Napi::Error::New(env, message).ThrowAsJavaScriptException();
  return env.Undefined();
}

// A manifest entry ({name, kernel, params: [{name, type}], num_warps, shared, ...}) as a spec.
std::string read_spec(const Napi::Value& v, cu::KernelSpec* spec) {
  if (!v.IsObject()) return "spec: expected a manifest entry";
  Napi::Object o = v.As<Napi::Object>();
  auto str = [&](const char* k, std::string* out) {
    if (!o.Get(k).IsString()) return false;
    *out = o.Get(k).As<Napi::String>().Utf8Value();
    return true;
  };
  auto num = [&](const char* k, double* out) {
    if (!o.Get(k).IsNumber()) return false;
    *out = o.Get(k).As<Napi::Number>().DoubleValue();
    return std::isfinite(*out) && *out >= 0 && *out == std::floor(*out);
  };
  double warps = 0, shared = 0, gs = 0, ps = 0;
  if (!str("name", &spec->name) || !str("kernel", &spec->kernel)) return "spec: name and kernel must be strings";
  if (!num("num_warps", &warps) || !num("shared", &shared) || !num("global_scratch_size", &gs) ||
      !num("profile_scratch_size", &ps))
    return spec->name + ": num_warps, shared, global_scratch_size and profile_scratch_size must be non-negative integers";
  spec->num_warps = static_cast<int>(warps);
  spec->shared = static_cast<int>(shared);
  spec->global_scratch_size = static_cast<int64_t>(gs);
  spec->profile_scratch_size = static_cast<int64_t>(ps);
  if (!o.Get("params").IsArray()) return spec->name + ": params must be an array";
  Napi::Array params = o.Get("params").As<Napi::Array>();
  for (uint32_t i = 0; i < params.Length(); i++) {
    Napi::Value p = params.Get(i);
    if (!p.IsObject() || !p.As<Napi::Object>().Get("name").IsString() || !p.As<Napi::Object>().Get("type").IsString())
      return spec->name + ": params[" + std::to_string(i) + "] must be {name, type}";
    const std::string type = p.As<Napi::Object>().Get("type").As<Napi::String>().Utf8Value();
    cu::ParamKind kind;
    if (!cu::parse_param_kind(type, &kind))
      return spec->name + ": params[" + std::to_string(i) + "] has unknown type " + type;
    spec->param_names.push_back(p.As<Napi::Object>().Get("name").As<Napi::String>().Utf8Value());
    spec->params.push_back(kind);
  }
  return "";
}

// {pointer: bigint | TypedArray} | {i32: number} | {f32: number}; a TypedArray is recorded in
// `buffers` and its device address filled in later by the caller.
std::string read_arg(const Napi::Value& v, size_t i, cu::Arg* arg, std::vector<Napi::TypedArray>* buffers,
                     std::vector<size_t>* buffer_args) {
  const std::string where = "args[" + std::to_string(i) + "]";
  if (!v.IsObject()) return where + ": expected {pointer}, {i32} or {f32}";
  Napi::Object o = v.As<Napi::Object>();
  if (o.Has("pointer")) {
    arg->kind = cu::Arg::Kind::pointer;
    Napi::Value p = o.Get("pointer");
    if (p.IsBigInt()) {
      bool lossless = false;
      arg->pointer = p.As<Napi::BigInt>().Uint64Value(&lossless);
      return lossless ? "" : where + ": pointer out of range";
    }
    if (p.IsTypedArray() && buffers != nullptr) {
      buffers->push_back(p.As<Napi::TypedArray>());
      buffer_args->push_back(i);
      return "";
    }
    return where + ": pointer must be a bigint" + (buffers != nullptr ? " or a typed array" : "");
  }
  if (o.Has("i32") && o.Get("i32").IsNumber()) {
    const double d = o.Get("i32").As<Napi::Number>().DoubleValue();
    if (d != std::floor(d) || std::fabs(d) > 9007199254740991.0) return where + ": i32 must be an integer";
    arg->kind = cu::Arg::Kind::integer;
    arg->integer = static_cast<int64_t>(d);
    return "";
  }
  if (o.Has("f32") && o.Get("f32").IsNumber()) {
    arg->kind = cu::Arg::Kind::real;
    arg->real = o.Get("f32").As<Napi::Number>().DoubleValue();
    return "";
  }
  return where + ": expected {pointer}, {i32} or {f32}";
}

// probe() -> { available, reason }
Napi::Value Probe(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string why;
  const cu::Driver* d = cu::driver(&why);
  Napi::Object o = Napi::Object::New(env);
  o.Set("available", d != nullptr);
  o.Set("reason", why);
  if (d != nullptr) {
    cu::Device dev = 0;
    int major = 0, minor = 0;
    if (d->cuDeviceGet(&dev, 0) == 0 && d->cuDeviceGetAttribute(&major, cu::kAttrComputeCapabilityMajor, dev) == 0 &&
        d->cuDeviceGetAttribute(&minor, cu::kAttrComputeCapabilityMinor, dev) == 0)
      o.Set("computeCapability", major * 10 + minor);
  }
  return o;
}

// packArgs(spec, args) -> Uint8Array per parameter (scratch pointers included)
Napi::Value PackArgs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  cu::KernelSpec spec;
  std::string error = read_spec(info[0], &spec);
  if (!error.empty()) return fail(env, error);
  if (!info[1].IsArray()) return fail(env, "packArgs: args must be an array");
  Napi::Array a = info[1].As<Napi::Array>();
  std::vector<cu::Arg> args(a.Length());
  for (uint32_t i = 0; i < a.Length() && error.empty(); i++) error = read_arg(a.Get(i), i, &args[i], nullptr, nullptr);
  cu::ArgPack pack;
  if (error.empty()) error = pack.pack(spec, args);
  if (!error.empty()) return fail(env, error);
  Napi::Array out = Napi::Array::New(env, pack.size());
  for (size_t i = 0; i < pack.size(); i++) {
    std::vector<uint8_t> bytes = pack.slot(i);
    Napi::Uint8Array s = Napi::Uint8Array::New(env, bytes.size());
    if (!bytes.empty()) std::memcpy(s.Data(), bytes.data(), bytes.size());
    out.Set(i, s);
  }
  return out;
}

// runKernel(spec, cubin: Uint8Array, grid: [x, y, z], args) -> the typed-array arguments after the
// launch, as ArrayBuffers in argument order. Synchronous: for device checks, not for training.
Napi::Value RunKernel(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string why;
  const cu::Driver* d = cu::driver(&why);
  if (d == nullptr) return fail(env, "runKernel: no CUDA device: " + why);
  cu::KernelSpec spec;
  std::string error = read_spec(info[0], &spec);
  if (!error.empty()) return fail(env, error);
  if (!info[1].IsTypedArray() || !info[2].IsArray() || info[2].As<Napi::Array>().Length() != 3 || !info[3].IsArray())
    return fail(env, "runKernel(spec, cubin: Uint8Array, grid: [x, y, z], args)");
  unsigned grid[3];
  for (uint32_t i = 0; i < 3; i++) grid[i] = info[2].As<Napi::Array>().Get(i).As<Napi::Number>().Uint32Value();
  Napi::Array a = info[3].As<Napi::Array>();
  std::vector<cu::Arg> args(a.Length());
  std::vector<Napi::TypedArray> buffers;
  std::vector<size_t> buffer_args;
  for (uint32_t i = 0; i < a.Length() && error.empty(); i++) error = read_arg(a.Get(i), i, &args[i], &buffers, &buffer_args);
  if (!error.empty()) return fail(env, error);

  cu::Device dev = 0;
  cu::Context ctx = nullptr;
  if (cu::Result r = d->cuDeviceGet(&dev, 0); r != 0) return fail(env, cu::describe(*d, "cuDeviceGet", r));
  if (cu::Result r = d->cuDevicePrimaryCtxRetain(&ctx, dev); r != 0)
    return fail(env, cu::describe(*d, "cuDevicePrimaryCtxRetain", r));
  if (cu::Result r = d->cuCtxSetCurrent(ctx); r != 0) return fail(env, cu::describe(*d, "cuCtxSetCurrent", r));
  Napi::TypedArray cubin = info[1].As<Napi::TypedArray>();
  std::vector<uint8_t> image(static_cast<uint8_t*>(cubin.ArrayBuffer().Data()) + cubin.ByteOffset(),
                             static_cast<uint8_t*>(cubin.ArrayBuffer().Data()) + cubin.ByteOffset() + cubin.ByteLength());
  cu::LoadedKernel kernel;
  error = cu::load_kernel(*d, spec, image.data(), &kernel);
  std::vector<cu::DevicePtr> device(buffers.size(), 0);
  for (size_t b = 0; b < buffers.size() && error.empty(); b++) {
    const size_t bytes = buffers[b].ByteLength();
    const uint8_t* host = static_cast<uint8_t*>(buffers[b].ArrayBuffer().Data()) + buffers[b].ByteOffset();
    if (cu::Result r = d->cuMemAlloc(&device[b], bytes > 0 ? bytes : 1); r != 0) error = cu::describe(*d, "cuMemAlloc", r);
    else if (cu::Result r2 = d->cuMemcpyHtoD(device[b], host, bytes); r2 != 0) error = cu::describe(*d, "cuMemcpyHtoD", r2);
    args[buffer_args[b]].pointer = device[b];
  }
  cu::ArgPack pack;
  if (error.empty()) error = pack.pack(spec, args);
  if (error.empty()) error = cu::launch(*d, kernel, grid, pack, nullptr);
  if (error.empty())
    if (cu::Result r = d->cuStreamSynchronize(nullptr); r != 0) error = cu::describe(*d, "cuStreamSynchronize", r);
  Napi::Array out = Napi::Array::New(env, buffers.size());
  for (size_t b = 0; b < buffers.size(); b++) {
    Napi::ArrayBuffer copy = Napi::ArrayBuffer::New(env, buffers[b].ByteLength());
    if (error.empty() && buffers[b].ByteLength() > 0)
      if (cu::Result r = d->cuMemcpyDtoH(copy.Data(), device[b], buffers[b].ByteLength()); r != 0)
        error = cu::describe(*d, "cuMemcpyDtoH", r);
    out.Set(b, copy);
    if (device[b] != 0) d->cuMemFree(device[b]);
  }
  if (kernel.module != nullptr) d->cuModuleUnload(kernel.module);
  if (!error.empty()) return fail(env, error);
  return out;
}

}  // namespace

Napi::Object InitCuda(Napi::Env env, Napi::Object exports) {
  Napi::Object cuda = Napi::Object::New(env);
  cuda.Set("probe", Napi::Function::New(env, Probe));
  cuda.Set("packArgs", Napi::Function::New(env, PackArgs));
  cuda.Set("runKernel", Napi::Function::New(env, RunKernel));
  exports.Set("cuda", cuda);
  return exports;
}
