// The addon's entry point: each binding file registers its functions on `exports`.
#include <napi.h>
#include <string>

#include "cpu/simd.h"

Napi::Object InitOps(Napi::Env env, Napi::Object exports);    // binding/ops.cc: single ops, for tests
Napi::Object InitModel(Napi::Env env, Napi::Object exports);  // binding/model.cc: the training engine
Napi::Object InitCuda(Napi::Env env, Napi::Object exports);   // binding/cuda.cc: the CUDA driver and launcher

// What this binary was compiled for: the instruction sets the compiler was allowed to use decide
// its floating-point bits (FMA contracts, vector widths), so they enter the train stage's key.
static Napi::Object BuildInfo(Napi::Env env) {
  std::string features;
  auto add = [&features](const char* name) { features += features.empty() ? name : std::string(",") + name; };
#if defined(__x86_64__)
  const char* arch = "x86_64";
#elif defined(__aarch64__)
  const char* arch = "aarch64";
#else
  const char* arch = "unknown";
#endif
#ifdef __SSE4_2__
  add("sse4.2");
#endif
#ifdef __AVX__
  add("avx");
#endif
#ifdef __AVX2__
  add("avx2");
#endif
#ifdef __FMA__
  add("fma");
#endif
#ifdef __F16C__
  add("f16c");
#endif
#ifdef __AVX512F__
  add("avx512f");
#endif
#ifdef __ARM_NEON
  add("neon");
#endif
#ifdef __ARM_FEATURE_FMA
  add("arm-fma");
#endif
  Napi::Object info = Napi::Object::New(env);
  info.Set("arch", arch);
  info.Set("features", features);
#if defined(__clang__) || !defined(__GNUC__)
  info.Set("compiler", __VERSION__);  // clang's says "Clang x.y.z" itself
#else
  info.Set("compiler", std::string("gcc ") + __VERSION__);
#endif
  return info;
}

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
#if SFT_AVX2
  // A build for AVX2 would die of SIGILL in its first kernel on an older x86-64: refuse to load instead.
  if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma")) {
    Napi::Error::New(env, "sft_native was built for AVX2 and FMA, which this CPU lacks; rebuild the portable "
                          "kernels with: npx node-gyp rebuild --directory native --simd=0")
        .ThrowAsJavaScriptException();
    return exports;
  }
#endif
  InitOps(env, exports);
  InitModel(env, exports);
  InitCuda(env, exports);
  exports.Set("build", BuildInfo(env));
  return exports;
}

NODE_API_MODULE(sft_native, Init)
