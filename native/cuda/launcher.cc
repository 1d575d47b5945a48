#include "cuda/launcher.h"

#include <cstring>

namespace cu {

bool parse_param_kind(const std::string& type, ParamKind* kind) {
  if (type == "*scratch") *kind = ParamKind::scratch;
  else if (!type.empty() && type[0] == '*') *kind = ParamKind::pointer;
  else if (type == "i32") *kind = ParamKind::i32;
  else if (type == "fp32") *kind = ParamKind::f32;
  else return false;
  return true;
}

static const char* kind_name(ParamKind k) {
  switch (k) {
    case ParamKind::pointer: return "a pointer";
    case ParamKind::i32: return "an i32";
    case ParamKind::f32: return "an fp32";
    case ParamKind::scratch: return "a scratch pointer";
  }
  return "?";
}

std::string ArgPack::pack(const KernelSpec& spec, const std::vector<Arg>& args) {
  size_t ours = 0;
  while (ours < spec.params.size() && spec.params[ours] != ParamKind::scratch) ours++;
  for (size_t i = ours; i < spec.params.size(); i++)
    if (spec.params[i] != ParamKind::scratch) return spec.name + ": a scratch pointer must come last";
  if (args.size() != ours)
    return spec.name + ": expected " + std::to_string(ours) + " arguments, got " + std::to_string(args.size());
  if (spec.global_scratch_size != 0 || spec.profile_scratch_size != 0)
    return spec.name + ": needs Triton scratch memory, which this launcher does not allocate";
  cells_.assign(spec.params.size(), 0);
  sizes_.assign(spec.params.size(), 0);
  for (size_t i = 0; i < spec.params.size(); i++) {
    void* cell = &cells_[i];
    const ParamKind want = spec.params[i];
    const std::string& name = i < spec.param_names.size() ? spec.param_names[i] : std::to_string(i);
    if (want == ParamKind::scratch) {
      sizes_[i] = sizeof(uint64_t);  // null: the spec needs no scratch
      continue;
    }
    const Arg& a = args[i];
    const bool fits = (want == ParamKind::pointer && a.kind == Arg::Kind::pointer) ||
                      (want == ParamKind::i32 && a.kind == Arg::Kind::integer) ||
                      (want == ParamKind::f32 && a.kind == Arg::Kind::real);
    if (!fits) return spec.name + ": argument " + name + " must be " + kind_name(want);
    switch (want) {
      case ParamKind::pointer:
        std::memcpy(cell, &a.pointer, sizeof(uint64_t));
        sizes_[i] = sizeof(uint64_t);
        break;
      case ParamKind::i32: {
        if (a.integer < INT32_MIN || a.integer > INT32_MAX)
          return spec.name + ": argument " + name + " = " + std::to_string(a.integer) + " does not fit an i32";
        const int32_t v = static_cast<int32_t>(a.integer);
        std::memcpy(cell, &v, sizeof v);
        sizes_[i] = sizeof v;
        break;
      }
      case ParamKind::f32: {
        const float v = static_cast<float>(a.real);
        std::memcpy(cell, &v, sizeof v);
        sizes_[i] = sizeof v;
        break;
      }
      case ParamKind::scratch: break;
    }
  }
  ptrs_.resize(cells_.size());
  for (size_t i = 0; i < cells_.size(); i++) ptrs_[i] = &cells_[i];
  return "";
}

std::vector<uint8_t> ArgPack::slot(size_t i) const {
  const uint8_t* p = reinterpret_cast<const uint8_t*>(&cells_[i]);
  return std::vector<uint8_t>(p, p + sizes_[i]);
}

std::string load_kernel(const Driver& d, const KernelSpec& spec, const void* cubin, LoadedKernel* out) {
  out->spec = spec;
  if (Result r = d.cuModuleLoadData(&out->module, cubin); r != 0)
    return spec.name + ": " + describe(d, "cuModuleLoadData", r);
  if (Result r = d.cuModuleGetFunction(&out->function, out->module, spec.kernel.c_str()); r != 0)
    return spec.name + ": " + describe(d, "cuModuleGetFunction", r);
  if (static_cast<size_t>(spec.shared) > kStaticSharedLimit)
    if (Result r = d.cuFuncSetAttribute(out->function, kFuncAttrMaxDynamicSharedSize, spec.shared); r != 0)
      return spec.name + ": " + describe(d, "cuFuncSetAttribute", r);
  return "";
}

std::string launch(const Driver& d, const LoadedKernel& k, const unsigned grid[3], ArgPack& args, Stream stream) {
  if (args.size() != k.spec.params.size()) return k.spec.name + ": arguments not packed for this kernel";
  Result r = d.cuLaunchKernel(k.function, grid[0], grid[1], grid[2], 32 * k.spec.num_warps, 1, 1,
                              static_cast<unsigned>(k.spec.shared), stream, args.params(), nullptr);
  return r == 0 ? "" : k.spec.name + ": " + describe(d, "cuLaunchKernel", r);
}

}  // namespace cu
