#include "cuda/driver.h"

#include <dlfcn.h>

#include <mutex>
#include <type_traits>

namespace cu {

namespace {

struct Loaded {
  Driver d{};
  bool ok = false;
  std::string why;
};

Loaded load() {
  Loaded l;
  void* lib = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
  if (lib == nullptr) {
    const char* e = dlerror();
    l.why = std::string("the NVIDIA driver library libcuda.so.1 could not be loaded (") + (e ? e : "no reason") + ")";
    return l;
  }
  bool missing = false;
  auto sym = [&](auto& fn, const char* name) {
    fn = reinterpret_cast<std::remove_reference_t<decltype(fn)>>(dlsym(lib, name));
    if (fn == nullptr && !missing) {
      missing = true;
      l.why = std::string("libcuda.so.1 has no ") + name + " (a driver older than CUDA 12?)";
    }
  };
  Driver& d = l.d;
  sym(d.cuInit, "cuInit");
  sym(d.cuDeviceGetCount, "cuDeviceGetCount");
  sym(d.cuDeviceGet, "cuDeviceGet");
  sym(d.cuDeviceGetAttribute, "cuDeviceGetAttribute");
  sym(d.cuDevicePrimaryCtxRetain, "cuDevicePrimaryCtxRetain");
  sym(d.cuCtxSetCurrent, "cuCtxSetCurrent");
  sym(d.cuModuleLoadData, "cuModuleLoadData");
  sym(d.cuModuleUnload, "cuModuleUnload");
  sym(d.cuModuleGetFunction, "cuModuleGetFunction");
  sym(d.cuFuncSetAttribute, "cuFuncSetAttribute");
  sym(d.cuLaunchKernel, "cuLaunchKernel");
  sym(d.cuMemAlloc, "cuMemAlloc_v2");
  sym(d.cuMemFree, "cuMemFree_v2");
  sym(d.cuMemcpyHtoD, "cuMemcpyHtoD_v2");
  sym(d.cuMemcpyDtoH, "cuMemcpyDtoH_v2");
  sym(d.cuStreamSynchronize, "cuStreamSynchronize");
  sym(d.cuGetErrorString, "cuGetErrorString");
  if (missing) return l;
  if (Result r = d.cuInit(0); r != 0) {
    l.why = describe(d, "cuInit", r);
    return l;
  }
  int count = 0;
  if (Result r = d.cuDeviceGetCount(&count); r != 0) {
    l.why = describe(d, "cuDeviceGetCount", r);
    return l;
  }
  if (count == 0) {
    l.why = "the NVIDIA driver sees no GPU";
    return l;
  }
  l.ok = true;
  return l;
}

}  // namespace

const Driver* driver(std::string* why) {
  static Loaded loaded;
  static std::once_flag once;
  std::call_once(once, [] { loaded = load(); });
  if (!loaded.ok) {
    *why = loaded.why;
    return nullptr;
  }
  return &loaded.d;
}

std::string describe(const Driver& d, const char* call, Result r) {
  const char* text = nullptr;
  if (d.cuGetErrorString == nullptr || d.cuGetErrorString(r, &text) != 0 || text == nullptr) text = "unknown error";
  return std::string(call) + " failed with CUDA error " + std::to_string(r) + " (" + text + ")";
}

}  // namespace cu
