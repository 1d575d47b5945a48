#include "cpu/gemm.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>

#include "cpu/parallel.h"
#include "cpu/simd.h"

// Blocked, packed SGEMM in the BLIS layout (Goto's algorithm; Van Zee & van de Geijn, "BLIS", TOMS 2015):
//   for jc (NC columns) / pc (KC of K: pack B) / ic (MC rows: pack A) / jr (NR) / ir (MR): micro-kernel
// The micro-kernel keeps an MR x NR block of C in registers: MR x NR/8 ymm accumulators, NR/8 B loads and one
// A broadcast per k.
//
// Determinism: C(i,j) = sum over pc blocks in ascending order of (sum over k in the block, ascending, by FMA).
// KC is a constant, so the bits depend only on K, not on the thread count or the M/N split.

namespace {

// Evidence (thread CPU time, one thread, interleaved with torch.matmul in one process on this 2-vCPU AMD EPYC
// while other jobs shared it; total over the 10 GEMM shapes of the reference training step, see bench/kernels.ts):
//   KC=256 MC=72: 292 ms; KC=384 MC=72: 253 ms (torch 287 ms); KC=512 MC=144: no better than 384.
//   + contiguous packing of transposed A and prefetching the C tile and B ahead: 247 ms vs 273 ms (torch 287 ms).
//   + 8x8 register transposes to pack transposed B (nn.Linear weights): 252 ms vs 260 ms (torch 294 ms).
//   Tried and not kept: a 4x24 tile (251 vs 252 ms, a tie), unrolling k by 4 (257 vs 244 ms), MC=36 or 144
//   (within the +-5% noise of MC=72).
// KC=384 keeps hidden-size-384 products in one K block (no second pass over C); 6x16 is the largest tile that
// fits the 16 ymm registers (12 accumulators + 2 B + 1 A).
constexpr int MR = 6, NR = 16;
constexpr int KC = 384, MC = 72, NC = 3072;

struct Buffers {
  float* a = nullptr;  // packed A block: MC x KC, as MR-row slivers
  float* b = nullptr;  // packed B panel: KC x NC, as NR-column slivers
  Buffers() {
    a = static_cast<float*>(std::aligned_alloc(64, sizeof(float) * MC * KC));
    b = static_cast<float*>(std::aligned_alloc(64, sizeof(float) * KC * NC));
  }
  ~Buffers() {
    std::free(a);
    std::free(b);
  }
};

Buffers& buffers() {
  thread_local Buffers b;
  return b;
}

// Packs A(i0:i0+mc, p0:p0+kc) into MR-row slivers: sliver s holds, for each k, A(i0+s*MR+r, k) for r < MR,
// zero-padded past mc.
void pack_a(float* dst, const float* A, int64_t rsa, int64_t csa, int i0, int mc, int p0, int kc) {
  if (rsa == 1) {
    // A stored transposed (its columns contiguous): one contiguous run of mc floats per k, scattered to slivers.
    for (int k = 0; k < kc; k++) {
      const float* src = A + i0 + (p0 + k) * csa;
      int s = 0;
      for (; s + MR <= mc; s += MR) {
        float* d = dst + static_cast<int64_t>(s) * kc + k * MR;
        for (int r = 0; r < MR; r++) d[r] = src[s + r];
      }
      if (s < mc) {
        float* d = dst + static_cast<int64_t>(s) * kc + k * MR;
        for (int r = 0; r < MR; r++) d[r] = s + r < mc ? src[s + r] : 0.0f;
      }
    }
    return;
  }
  for (int s = 0; s < mc; s += MR) {
    int rows = std::min(MR, mc - s);
    float* d = dst + static_cast<int64_t>(s) * kc;
    for (int r = 0; r < rows; r++) {
      const float* src = A + (i0 + s + r) * rsa + p0 * csa;
      for (int k = 0; k < kc; k++) d[k * MR + r] = src[k * csa];
    }
    for (int r = rows; r < MR; r++)
      for (int k = 0; k < kc; k++) d[k * MR + r] = 0.0f;
  }
}

// Packs B(p0:p0+kc, j0:j0+nc) into NR-column slivers: sliver s holds, for each k, B(k, j0+s*NR+c) for c < NR,
// zero-padded past nc.
void pack_b(float* dst, const float* B, int64_t rsb, int64_t csb, int p0, int kc, int j0, int nc) {
  for (int s = 0; s < nc; s += NR) {
    int cols = std::min(NR, nc - s);
    float* d = dst + static_cast<int64_t>(s) * kc;
    if (csb == 1) {
      for (int k = 0; k < kc; k++) {
        const float* src = B + (p0 + k) * rsb + (j0 + s);
        float* dk = d + k * NR;
#if SFT_AVX2
        if (cols == NR) {
          _mm256_storeu_ps(dk, _mm256_loadu_ps(src));
          _mm256_storeu_ps(dk + 8, _mm256_loadu_ps(src + 8));
          continue;
        }
#endif
        for (int c = 0; c < cols; c++) dk[c] = src[c];
        for (int c = cols; c < NR; c++) dk[c] = 0.0f;
      }
    }
#if SFT_AVX2
    else if (rsb == 1 && cols == NR) {
      // B stored transposed (nn.Linear weight: columns contiguous): 8x8 register transposes turn 8 contiguous
      // k-runs of 8 columns into 8 packed rows.
      for (int h = 0; h < NR; h += 8) {
        const float* src = B + p0 + (j0 + s + h) * csb;
        int k = 0;
        for (; k + 8 <= kc; k += 8) {
          __m256 r0 = _mm256_loadu_ps(src + 0 * csb + k), r1 = _mm256_loadu_ps(src + 1 * csb + k);
          __m256 r2 = _mm256_loadu_ps(src + 2 * csb + k), r3 = _mm256_loadu_ps(src + 3 * csb + k);
          __m256 r4 = _mm256_loadu_ps(src + 4 * csb + k), r5 = _mm256_loadu_ps(src + 5 * csb + k);
          __m256 r6 = _mm256_loadu_ps(src + 6 * csb + k), r7 = _mm256_loadu_ps(src + 7 * csb + k);
          __m256 t0 = _mm256_unpacklo_ps(r0, r1), t1 = _mm256_unpackhi_ps(r0, r1);
          __m256 t2 = _mm256_unpacklo_ps(r2, r3), t3 = _mm256_unpackhi_ps(r2, r3);
          __m256 t4 = _mm256_unpacklo_ps(r4, r5), t5 = _mm256_unpackhi_ps(r4, r5);
          __m256 t6 = _mm256_unpacklo_ps(r6, r7), t7 = _mm256_unpackhi_ps(r6, r7);
          __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE);
          __m256 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE);
          __m256 u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xEE);
          __m256 u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xEE);
          float* dk = d + k * NR + h;
          _mm256_store_ps(dk + 0 * NR, _mm256_permute2f128_ps(u0, u4, 0x20));
          _mm256_store_ps(dk + 1 * NR, _mm256_permute2f128_ps(u1, u5, 0x20));
          _mm256_store_ps(dk + 2 * NR, _mm256_permute2f128_ps(u2, u6, 0x20));
          _mm256_store_ps(dk + 3 * NR, _mm256_permute2f128_ps(u3, u7, 0x20));
          _mm256_store_ps(dk + 4 * NR, _mm256_permute2f128_ps(u0, u4, 0x31));
          _mm256_store_ps(dk + 5 * NR, _mm256_permute2f128_ps(u1, u5, 0x31));
          _mm256_store_ps(dk + 6 * NR, _mm256_permute2f128_ps(u2, u6, 0x31));
          _mm256_store_ps(dk + 7 * NR, _mm256_permute2f128_ps(u3, u7, 0x31));
        }
        for (; k < kc; k++)
          for (int c = 0; c < 8; c++) d[k * NR + h + c] = src[c * csb + k];
      }
    }
#endif
    else {
      for (int c = 0; c < cols; c++) {
        const float* src = B + p0 * rsb + (j0 + s + c) * csb;
        for (int k = 0; k < kc; k++) d[k * NR + c] = src[k * rsb];
      }
      for (int c = cols; c < NR; c++)
        for (int k = 0; k < kc; k++) d[k * NR + c] = 0.0f;
    }
  }
}

#if SFT_AVX2
// C(MR,NR) (+)= Apack(MR,kc) Bpack(kc,NR); `first` writes instead of adding. Partial tiles go through a
// scratch tile so the kernel itself never branches on the shape. Named accumulators, not an array: with an
// array gcc spills all twelve to the stack every iteration (3x slower).
void kernel(int kc, const float* __restrict a, const float* __restrict b, float* c, int64_t ldc, int mr, int nr,
            bool first) {
  __m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
  __m256 c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
  // The C tile is read after the k loop: start fetching it now.
  for (int r = 0; r < mr; r++) {
    _mm_prefetch(reinterpret_cast<const char*>(c + r * ldc), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(c + r * ldc + 15), _MM_HINT_T0);
  }
  for (int k = 0; k < kc; k++, a += MR, b += NR) {
    _mm_prefetch(reinterpret_cast<const char*>(b + 8 * NR), _MM_HINT_T0);
    __m256 b0 = _mm256_load_ps(b);
    __m256 b1 = _mm256_load_ps(b + 8);
    __m256 av = _mm256_broadcast_ss(a);
    c00 = _mm256_fmadd_ps(av, b0, c00);
    c01 = _mm256_fmadd_ps(av, b1, c01);
    av = _mm256_broadcast_ss(a + 1);
    c10 = _mm256_fmadd_ps(av, b0, c10);
    c11 = _mm256_fmadd_ps(av, b1, c11);
    av = _mm256_broadcast_ss(a + 2);
    c20 = _mm256_fmadd_ps(av, b0, c20);
    c21 = _mm256_fmadd_ps(av, b1, c21);
    av = _mm256_broadcast_ss(a + 3);
    c30 = _mm256_fmadd_ps(av, b0, c30);
    c31 = _mm256_fmadd_ps(av, b1, c31);
    av = _mm256_broadcast_ss(a + 4);
    c40 = _mm256_fmadd_ps(av, b0, c40);
    c41 = _mm256_fmadd_ps(av, b1, c41);
    av = _mm256_broadcast_ss(a + 5);
    c50 = _mm256_fmadd_ps(av, b0, c50);
    c51 = _mm256_fmadd_ps(av, b1, c51);
  }
  alignas(32) float tile[MR][NR];
  const bool full = mr == MR && nr == NR;
  auto put = [&](int r, __m256 lo, __m256 hi) {
    if (!full) {
      _mm256_store_ps(tile[r], lo);
      _mm256_store_ps(tile[r] + 8, hi);
      return;
    }
    float* cr = c + r * ldc;
    if (!first) {
      lo = _mm256_add_ps(_mm256_loadu_ps(cr), lo);
      hi = _mm256_add_ps(_mm256_loadu_ps(cr + 8), hi);
    }
    _mm256_storeu_ps(cr, lo);
    _mm256_storeu_ps(cr + 8, hi);
  };
  put(0, c00, c01);
  put(1, c10, c11);
  put(2, c20, c21);
  put(3, c30, c31);
  put(4, c40, c41);
  put(5, c50, c51);
  if (full) return;
  for (int r = 0; r < mr; r++)
    for (int j = 0; j < nr; j++) c[r * ldc + j] = first ? tile[r][j] : c[r * ldc + j] + tile[r][j];
}
#else
// The same tile as the AVX2 kernel, one fused multiply-add per element and k in the same order.
void kernel(int kc, const float* __restrict a, const float* __restrict b, float* c, int64_t ldc, int mr, int nr,
            bool first) {
  float tile[MR][NR] = {};
  for (int k = 0; k < kc; k++, a += MR, b += NR)
    for (int r = 0; r < MR; r++)
      for (int j = 0; j < NR; j++) tile[r][j] = std::fma(a[r], b[j], tile[r][j]);
  for (int r = 0; r < mr; r++)
    for (int j = 0; j < nr; j++) c[r * ldc + j] = first ? tile[r][j] : c[r * ldc + j] + tile[r][j];
}
#endif

// The whole blocked product for rows [m0,m1) and columns [n0,n1) on the calling thread.
void gemm_serial(int m0, int m1, int n0, int n1, int K, const float* A, int64_t rsa, int64_t csa, const float* B,
                 int64_t rsb, int64_t csb, float* C, int64_t ldc, bool accumulate) {
  Buffers& buf = buffers();
  for (int jc = n0; jc < n1; jc += NC) {
    int nc = std::min(NC, n1 - jc);
    for (int pc = 0; pc < K; pc += KC) {
      int kc = std::min(KC, K - pc);
      bool first = pc == 0 && !accumulate;
      pack_b(buf.b, B, rsb, csb, pc, kc, jc, nc);
      for (int ic = m0; ic < m1; ic += MC) {
        int mc = std::min(MC, m1 - ic);
        pack_a(buf.a, A, rsa, csa, ic, mc, pc, kc);
        for (int jr = 0; jr < nc; jr += NR) {
          for (int ir = 0; ir < mc; ir += MR) {
            kernel(kc, buf.a + static_cast<int64_t>(ir) * kc, buf.b + static_cast<int64_t>(jr) * kc,
                   C + (ic + ir) * ldc + jc + jr, ldc, std::min(MR, mc - ir), std::min(NR, nc - jr), first);
          }
        }
      }
    }
  }
}

}  // namespace

void sgemm_naive(int M, int N, int K, const float* A, int64_t rsa, int64_t csa, const float* B, int64_t rsb,
                 int64_t csb, float* C, int64_t ldc, bool accumulate) {
  parallel_for(M, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; i++)
      for (int64_t j = 0; j < N; j++) {
        float acc = 0.0f;
        for (int64_t k = 0; k < K; k++) acc += A[i * rsa + k * csa] * B[k * rsb + j * csb];
        C[i * ldc + j] = accumulate ? C[i * ldc + j] + acc : acc;
      }
  });
}

void sgemm(int M, int N, int K, const float* A, int64_t rsa, int64_t csa, const float* B, int64_t rsb, int64_t csb,
           float* C, int64_t ldc, bool accumulate) {
  if (M == 0 || N == 0) return;
  if (K == 0) {
    if (!accumulate)
      for (int i = 0; i < M; i++) std::memset(C + i * ldc, 0, sizeof(float) * N);
    return;
  }
  // Threads split the larger output dimension in whole micro-tiles; each computes complete C elements.
  if (M >= N) {
    int tiles = (M + MR - 1) / MR;
    parallel_for(tiles, [&](int64_t t0, int64_t t1) {
      gemm_serial(static_cast<int>(t0 * MR), static_cast<int>(std::min<int64_t>(M, t1 * MR)), 0, N, K, A, rsa, csa,
                  B, rsb, csb, C, ldc, accumulate);
    });
  } else {
    int tiles = (N + NR - 1) / NR;
    parallel_for(tiles, [&](int64_t t0, int64_t t1) {
      gemm_serial(0, M, static_cast<int>(t0 * NR), static_cast<int>(std::min<int64_t>(N, t1 * NR)), K, A, rsa, csa,
                  B, rsb, csb, C, ldc, accumulate);
    });
  }
}
