// The few CUDA driver API entry points the cuda backend uses, declared here and resolved at run
// time with dlopen("libcuda.so.1"): the addon builds without CUDA headers or toolkit, and loads on a
// machine without a driver (the cuda backend then reports why it is unavailable). Types and values
// follow cuda.h (CUDA 12/13); the _v2 symbols are the ones cuda.h maps the plain names to.
#pragma once
#include <cstddef>
#include <string>

namespace cu {

using Result = int;  // CUresult; 0 is CUDA_SUCCESS
using Device = int;
using Context = struct CUctx_st*;
using Module = struct CUmod_st*;
using Function = struct CUfunc_st*;
using Stream = struct CUstream_st*;
using DevicePtr = unsigned long long;

constexpr int kAttrComputeCapabilityMajor = 75;  // CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR
constexpr int kAttrComputeCapabilityMinor = 76;
constexpr int kFuncAttrMaxDynamicSharedSize = 8;  // CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES
constexpr size_t kStaticSharedLimit = 48 * 1024;  // what a launch gets without opting in

struct Driver {
  Result (*cuInit)(unsigned int flags);
  Result (*cuDeviceGetCount)(int* count);
  Result (*cuDeviceGet)(Device* device, int ordinal);
  Result (*cuDeviceGetAttribute)(int* value, int attribute, Device device);
  Result (*cuDevicePrimaryCtxRetain)(Context* ctx, Device device);
  Result (*cuCtxSetCurrent)(Context ctx);
  Result (*cuModuleLoadData)(Module* module, const void* image);
  Result (*cuModuleUnload)(Module module);
  Result (*cuModuleGetFunction)(Function* function, Module module, const char* name);
  Result (*cuFuncSetAttribute)(Function function, int attribute, int value);
  Result (*cuLaunchKernel)(Function f, unsigned grid_x, unsigned grid_y, unsigned grid_z, unsigned block_x,
                           unsigned block_y, unsigned block_z, unsigned shared_bytes, Stream stream, void** params,
                           void** extra);
  Result (*cuMemAlloc)(DevicePtr* ptr, size_t bytes);  // cuMemAlloc_v2
  Result (*cuMemFree)(DevicePtr ptr);                  // cuMemFree_v2
  Result (*cuMemcpyHtoD)(DevicePtr dst, const void* src, size_t bytes);
  Result (*cuMemcpyDtoH)(void* dst, DevicePtr src, size_t bytes);
  Result (*cuStreamSynchronize)(Stream stream);
  Result (*cuGetErrorString)(Result error, const char** text);
};

// The driver, loaded and initialised once per process; null with *why set when there is none
// (no libcuda.so.1, a missing symbol, cuInit failing, no device).
const Driver* driver(std::string* why);

// "cuLaunchKernel: CUDA_ERROR_INVALID_VALUE (invalid argument)"-style text for a failed call.
std::string describe(const Driver& d, const char* call, Result r);

}  // namespace cu
