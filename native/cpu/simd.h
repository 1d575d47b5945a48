// Which vector code the CPU kernels compile. AVX2 + FMA on x86-64 when the compiler may use them
// (binding.gyp passes -mavx2 -mfma there unless configured with --simd=0); otherwise (arm64, or that
// switch) portable scalar code. The scalar paths mirror the vector ones lane for lane: the same
// polynomial, the same fused multiply-adds (std::fma), the same 8 partial sums in the same order. So
// both compute the same bits, and a machine without AVX2 trains exactly as one with it, only slower.
#pragma once
#if defined(__x86_64__) && defined(__AVX2__) && defined(__FMA__)
#define SFT_AVX2 1
#include <immintrin.h>
#else
#define SFT_AVX2 0
#endif
