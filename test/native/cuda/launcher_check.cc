// The launcher on a GPU, without Node (the device machine has none): every cubin of native/kernels
// is loaded through cuda/launcher.cc, and three kernels run against references computed here:
// scale_inplace (an fp32 scalar arrives as a 4-byte float), gemm.fp32 (shared memory past the 48 KB
// opt-in) and the two-stage sum of squares (the same bits twice). Prints one line per check and
// exits 1 when any fails. native/cuda/device-check.sh builds and runs it:
//   g++ -std=c++17 -O2 -I native test/native/cuda/launcher_check.cc native/cuda/launcher.cc native/cuda/driver.cc -ldl
//   python3 -c '…manifest.json as lines…' | ./launcher_check native/kernels
// Input lines: name kernel num_warps shared global_scratch_size profile_scratch_size types names
// (types and names comma-separated, in launch order).
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>
#include <map>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "cuda/driver.h"
#include "cuda/launcher.h"

namespace {

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::stringstream in(s);
  for (std::string part; std::getline(in, part, sep);) out.push_back(part);
  return out;
}

int failures = 0;

void report(bool ok, const std::string& what) {
  std::printf("%s %s\n", ok ? "ok  " : "FAIL", what.c_str());
  failures += ok ? 0 : 1;
}

struct Device {
  const cu::Driver& d;
  std::vector<cu::DevicePtr> owned;
  ~Device() {
    for (cu::DevicePtr p : owned) d.cuMemFree(p);
  }
  template <typename T>
  cu::DevicePtr upload(const std::vector<T>& host) {
    cu::DevicePtr p = 0;
    if (d.cuMemAlloc(&p, host.size() * sizeof(T)) != 0 || d.cuMemcpyHtoD(p, host.data(), host.size() * sizeof(T)) != 0)
      throw std::runtime_error("upload failed");
    owned.push_back(p);
    return p;
  }
  template <typename T>
  std::vector<T> download(cu::DevicePtr p, size_t n) {
    std::vector<T> host(n);
    if (d.cuMemcpyDtoH(host.data(), p, n * sizeof(T)) != 0) throw std::runtime_error("download failed");
    return host;
  }
};

cu::Arg ptr(cu::DevicePtr p) { return {cu::Arg::Kind::pointer, p, 0, 0}; }
cu::Arg i32(int64_t v) { return {cu::Arg::Kind::integer, 0, v, 0}; }
cu::Arg f32(double v) { return {cu::Arg::Kind::real, 0, 0, v}; }

uint16_t to_bf16(float x) {
  uint32_t bits;
  std::memcpy(&bits, &x, 4);
  return static_cast<uint16_t>(bits >> 16);
}
float from_bf16(uint16_t h) {
  uint32_t bits = static_cast<uint32_t>(h) << 16;
  float x;
  std::memcpy(&x, &bits, 4);
  return x;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: launcher_check <native/kernels> < specs\n");
    return 2;
  }
  std::string why;
  const cu::Driver* d = cu::driver(&why);
  if (d == nullptr) {
    std::fprintf(stderr, "no CUDA device: %s\n", why.c_str());
    return 2;
  }
  cu::Device dev = 0;
  cu::Context ctx = nullptr;
  if (d->cuDeviceGet(&dev, 0) != 0 || d->cuDevicePrimaryCtxRetain(&ctx, dev) != 0 || d->cuCtxSetCurrent(ctx) != 0) {
    std::fprintf(stderr, "no context on device 0\n");
    return 2;
  }
  std::map<std::string, cu::LoadedKernel> kernels;
  for (std::string line; std::getline(std::cin, line);) {
    std::stringstream in(line);
    cu::KernelSpec spec;
    std::string types, names;
    in >> spec.name >> spec.kernel >> spec.num_warps >> spec.shared >> spec.global_scratch_size >>
        spec.profile_scratch_size >> types >> names;
    spec.param_names = split(names, ',');
    for (const std::string& t : split(types, ',')) {
      cu::ParamKind k;
      if (!cu::parse_param_kind(t, &k)) {
        report(false, spec.name + ": unknown parameter type " + t);
        continue;
      }
      spec.params.push_back(k);
    }
    std::ifstream f(std::string(argv[1]) + "/" + spec.name + ".cubin", std::ios::binary);
    std::vector<char> image((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    cu::LoadedKernel k;
    const std::string error = image.empty() ? spec.name + ": no cubin" : cu::load_kernel(*d, spec, image.data(), &k);
    if (!error.empty()) report(false, error);
    else kernels[spec.name] = k;
  }
  report(kernels.size() > 40, std::to_string(kernels.size()) + " kernels loaded");

  Device mem{*d, {}};
  auto run = [&](const std::string& name, unsigned gx, unsigned gy, const std::vector<cu::Arg>& args) {
    auto it = kernels.find(name);
    if (it == kernels.end()) throw std::runtime_error(name + " not loaded");
    cu::ArgPack pack;
    std::string error = pack.pack(it->second.spec, args);
    const unsigned grid[3] = {gx, gy, 1};
    if (error.empty()) error = cu::launch(*d, it->second, grid, pack, nullptr);
    if (error.empty() && d->cuStreamSynchronize(nullptr) != 0) error = name + ": cuStreamSynchronize failed";
    if (!error.empty()) throw std::runtime_error(error);
  };
  try {
    {
      const int n = 3000;
      std::vector<float> x(n);
      for (int i = 0; i < n; i++) x[i] = std::sin(static_cast<float>(i));
      cu::DevicePtr px = mem.upload(x);
      run("scale_inplace", (n + 1023) / 1024, 1, {ptr(px), f32(0.37), i32(n)});
      std::vector<float> got = mem.download<float>(px, n);
      bool exact = true;
      for (int i = 0; i < n; i++) exact &= got[i] == x[i] * 0.37f;
      report(exact, "scale_inplace: x * 0.37f bit for bit");
    }
    {
      const int M = 130, N = 70, K = 96;
      std::vector<uint16_t> a(M * K), b(K * N), bias(1);
      for (int i = 0; i < M * K; i++) a[i] = to_bf16(std::sin(static_cast<float>(i)) / 4);
      for (int i = 0; i < K * N; i++) b[i] = to_bf16(std::cos(static_cast<float>(i)) / 4);
      std::vector<float> c(M * N, 0.0f);
      cu::DevicePtr pc = mem.upload(c), pa = mem.upload(a), pb = mem.upload(b), pbias = mem.upload(bias);
      const cu::KernelSpec& s = kernels.at("gemm.fp32").spec;
      // 128 x 128 tiles: build.py's GEMM block sizes
      run("gemm.fp32", (M + 127) / 128, (N + 127) / 128,
          {ptr(pc), ptr(pa), ptr(pb), ptr(pbias), i32(M), i32(N), i32(K), i32(K), i32(1), i32(N), i32(1), i32(N)});
      std::vector<float> got = mem.download<float>(pc, M * N);
      double worst = 0;
      for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
          double ref = 0;
          for (int k = 0; k < K; k++) ref += static_cast<double>(from_bf16(a[i * K + k])) * from_bf16(b[k * N + j]);
          worst = std::fmax(worst, std::fabs(got[i * N + j] - ref));
        }
      report(worst < 1e-4 && s.shared > 48 * 1024,
             "gemm.fp32 (" + std::to_string(s.shared) + " B shared): max|diff| " + std::to_string(worst));
    }
    {
      const int n = 100000, P = (n + 1023) / 1024;
      std::vector<float> x(n);
      double ref = 0;
      for (int i = 0; i < n; i++) {
        x[i] = std::sin(0.7f * i);
        ref += static_cast<double>(x[i]) * x[i];
      }
      cu::DevicePtr px = mem.upload(x), partial = mem.upload(std::vector<double>(P)), out = mem.upload(std::vector<double>(1));
      double first = 0;
      for (int rep = 0; rep < 2; rep++) {
        run("sum_squares_partial", P, 1, {ptr(partial), ptr(px), i32(n)});
        run("sum_in_order", 1, 1, {ptr(out), ptr(partial), i32(P)});
        const double total = mem.download<double>(out, 1)[0];
        if (rep == 0) first = total;
        else report(total == first && std::fabs(total - ref) / ref < 1e-12,
                    "sum_squares: " + std::to_string(total) + " vs " + std::to_string(ref) + ", same bits twice");
      }
    }
  } catch (const std::exception& e) {
    report(false, e.what());
  }
  return failures == 0 ? 0 : 1;
}
