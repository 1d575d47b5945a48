// The addon's entry point: each binding file registers its functions on `exports`.
#include <napi.h>

Napi::Object InitOps(Napi::Env env, Napi::Object exports);    // binding/ops.cc: single ops, for tests
Napi::Object InitModel(Napi::Env env, Napi::Object exports);  // binding/model.cc: the training engine

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  InitOps(env, exports);
  InitModel(env, exports);
  return exports;
}

NODE_API_MODULE(sft_native, Init)
