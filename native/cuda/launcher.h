// Kernels of the ahead-of-time library (native/kernels/manifest.json, written by
// native/triton/build.py) and their launch: module loading, the >48 KB shared-memory opt-in, and
// the packing of arguments in the manifest's parameter order. Triton's launcher template passes
// fp32 scalars wrongly; here every slot holds exactly what the kernel reads: 8-byte pointers,
// 4-byte ints, 4-byte IEEE floats, then Triton's two trailing scratch pointers.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "cuda/driver.h"

namespace cu {

enum class ParamKind { pointer, i32, f32, scratch };

struct KernelSpec {
  std::string name;    // the variant, e.g. "rmsnorm_forward.c1024"
  std::string kernel;  // the entry point in the cubin
  std::vector<std::string> param_names;
  std::vector<ParamKind> params;  // launch order; the last two are scratch pointers
  int num_warps = 4;
  int shared = 0;                   // bytes of dynamic shared memory
  int64_t global_scratch_size = 0;  // bytes per program; the launcher supports 0 only
  int64_t profile_scratch_size = 0;
};

// A manifest type ("*bf16", "i32", "fp32", "*scratch") as a kind; returns false for any other.
bool parse_param_kind(const std::string& type, ParamKind* kind);

// One argument from the caller, for the parameters before the scratch pointers.
struct Arg {
  enum class Kind { pointer, integer, real } kind;
  uint64_t pointer = 0;
  int64_t integer = 0;
  double real = 0;
};

class ArgPack {
 public:
  // "" when args fit the spec's parameters (count and kinds, ints within int32), else what is wrong.
  std::string pack(const KernelSpec& spec, const std::vector<Arg>& args);
  // The kernelParams array of cuLaunchKernel; valid while this pack lives and is not re-packed.
  void** params() { return ptrs_.data(); }
  // The bytes of parameter i as the kernel reads them.
  std::vector<uint8_t> slot(size_t i) const;
  size_t size() const { return sizes_.size(); }

 private:
  std::vector<uint64_t> cells_;  // one 8-byte cell per parameter, aligned for any kind
  std::vector<size_t> sizes_;
  std::vector<void*> ptrs_;
};

// A kernel loaded into the current context.
struct LoadedKernel {
  KernelSpec spec;
  Module module = nullptr;
  Function function = nullptr;
};

// Loads a cubin and finds its entry point; opts in to the spec's shared memory above 48 KB.
std::string load_kernel(const Driver& d, const KernelSpec& spec, const void* cubin, LoadedKernel* out);

// Launches grid programs of 32 * num_warps threads on stream with packed args.
std::string launch(const Driver& d, const LoadedKernel& k, const unsigned grid[3], ArgPack& args, Stream stream);

}  // namespace cu
