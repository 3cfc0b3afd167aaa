// AVX2 level of dlx's float32 GEMM (sgemm_kernels.h): 6 x 16 register tiles (12 ymm
// accumulators, two B vectors and one broadcast of the 16 registers), the packers of that
// layout and the batch-1 GEMV. Built with the avx2 level's flags only.
#include <immintrin.h>

#include <algorithm>
#include <array>
#include <utility>

#include "avx2_util.h"
#include "sgemm_kernels.h"

namespace dlx::DLX_ISA_NS {
namespace {

using avx2::load_first;
using avx2::store_first;
using avx2::transpose8;

constexpr int kNR = 16;
constexpr int kMRMax = 6;

// C[0:MR, 0:nc] = alpha * Ap @ Bp + beta * C; beta == 0 never reads C.
template <int MR>
void micro_kernel(int64_t kc, const float* __restrict ap, const float* __restrict bp, float* c,
                  int64_t ldc, float alpha, float beta, int64_t nc) {
  __m256 acc0[MR], acc1[MR];
#pragma GCC unroll 6
  for (int i = 0; i < MR; ++i) {
    acc0[i] = acc1[i] = _mm256_setzero_ps();
    _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc + 15), _MM_HINT_T0);
  }
#pragma GCC unroll 4
  for (int64_t p = 0; p < kc; ++p) {
    const __m256 b0 = _mm256_load_ps(bp), b1 = _mm256_load_ps(bp + 8);
#pragma GCC unroll 6
    for (int i = 0; i < MR; ++i) {
      const __m256 av = _mm256_broadcast_ss(ap + i);
      acc0[i] = _mm256_fmadd_ps(av, b0, acc0[i]);
      acc1[i] = _mm256_fmadd_ps(av, b1, acc1[i]);
    }
    ap += MR;
    bp += kNR;
  }
  const __m256 va = _mm256_set1_ps(alpha), vb = _mm256_set1_ps(beta);
  if (nc == kNR) {
#pragma GCC unroll 6
    for (int i = 0; i < MR; ++i) {
      float* ci = c + i * ldc;
      __m256 r0 = _mm256_mul_ps(va, acc0[i]), r1 = _mm256_mul_ps(va, acc1[i]);
      if (beta != 0.0f) {
        r0 = _mm256_fmadd_ps(vb, _mm256_loadu_ps(ci), r0);
        r1 = _mm256_fmadd_ps(vb, _mm256_loadu_ps(ci + 8), r1);
      }
      _mm256_storeu_ps(ci, r0);
      _mm256_storeu_ps(ci + 8, r1);
    }
    return;
  }
  const int64_t n0 = std::min<int64_t>(nc, 8), n1 = nc - n0;
#pragma GCC unroll 6
  for (int i = 0; i < MR; ++i) {
    float* ci = c + i * ldc;
    __m256 r0 = _mm256_mul_ps(va, acc0[i]), r1 = _mm256_mul_ps(va, acc1[i]);
    if (beta != 0.0f) {
      r0 = _mm256_fmadd_ps(vb, load_first(ci, n0), r0);
      if (n1 > 0) r1 = _mm256_fmadd_ps(vb, load_first(ci + 8, n1), r1);
    }
    store_first(ci, r0, n0);
    if (n1 > 0) store_first(ci + 8, r1, n1);
  }
}

using Kernel = void (*)(int64_t, const float*, const float*, float*, int64_t, float, float,
                        int64_t);
template <int... I>
constexpr auto make_kernels(std::integer_sequence<int, I...>) {
  return std::array<Kernel, sizeof...(I)>{&micro_kernel<I + 1>...};
}
constexpr auto kKernels = make_kernels(std::make_integer_sequence<int, kMRMax>{});

void micro(int64_t mr, int64_t kc, const float* ap, const float* bp, float* c, int64_t ldc,
           float alpha, float beta, int64_t nc) {
  kKernels[mr - 1](kc, ap, bp, c, ldc, alpha, beta, nc);
}

// Packs A[i0:i0+mr, p0:p0+kc] of an A stored [M, K] as dst[p*mr + i]: 8 (k) x 8 blocks
// transposed in registers (rows of the block beyond mr are zeros and never stored).
void pack_a_tile(const float* a, int64_t lda, int64_t i0, int64_t mr, int64_t p0, int64_t kc,
                 float* dst) {
  for (int64_t p = 0; p < kc; p += 8) {
    const int64_t np = std::min<int64_t>(8, kc - p);
    __m256 r[8];
    for (int64_t i = 0; i < 8; ++i)
      r[i] = i < mr ? load_first(a + (i0 + i) * lda + p0 + p, np) : _mm256_setzero_ps();
    transpose8(r);
    for (int64_t q = 0; q < np; ++q) store_first(dst + (p + q) * mr, r[q], mr);
  }
}

// Packs op(B)[p0:p0+kc, j0:j0+nj] (nj <= 16) as dst[p*16 + j], zero beyond nj.
void pack_b_panel(bool trans_b, const float* b, int64_t ldb, int64_t p0, int64_t kc, int64_t j0,
                  int64_t nj, float* dst) {
  if (!trans_b) {  // B is [K, N]: each panel row is a (masked) copy of 16 floats
    const float* src = b + p0 * ldb + j0;
    const int64_t n0 = std::min<int64_t>(nj, 8), n1 = std::max<int64_t>(nj - 8, 0);
    for (int64_t p = 0; p < kc; ++p, src += ldb, dst += kNR) {
      _mm256_store_ps(dst, load_first(src, n0));
      _mm256_store_ps(dst + 8, n1 > 0 ? load_first(src + 8, n1) : _mm256_setzero_ps());
    }
    return;
  }
  // B is stored [N, K]: column j of op(B) is row j0 + j of B; transpose 8x8 blocks.
  for (int64_t jb = 0; jb < kNR; jb += 8) {
    const int64_t rows = std::clamp<int64_t>(nj - jb, 0, 8);
    for (int64_t p = 0; p < kc; p += 8) {
      const int64_t np = std::min<int64_t>(8, kc - p);
      __m256 r[8];
      for (int64_t i = 0; i < 8; ++i)
        r[i] = i < rows ? load_first(b + (j0 + jb + i) * ldb + p0 + p, np) : _mm256_setzero_ps();
      transpose8(r);
      for (int64_t i = 0; i < np; ++i) _mm256_store_ps(dst + (p + i) * kNR + jb, r[i]);
    }
  }
}

void pack_a_block(bool trans_a, const float* a, int64_t lda, int64_t i0, const SgemmTiles& tiles,
                  int64_t p0, int64_t kc, float* dst) {
  if (!trans_a) {
    for (int64_t t = 0; t < tiles.count; ++t)
      pack_a_tile(a, lda, i0 + tiles.start(t), tiles.rows(t), p0, kc, dst + tiles.start(t) * kc);
    return;
  }
  // A stored [K, M]: walk each stored row once, handing every tile its mr floats.
  const float* src = a + p0 * lda + i0;
  for (int64_t p = 0; p < kc; ++p, src += lda) {
    for (int64_t t = 0; t < tiles.count; ++t) {
      const int64_t mr = tiles.rows(t), i = tiles.start(t);
      store_first(dst + i * kc + p * mr, load_first(src + i, mr), mr);
    }
  }
}

// Four rows at a time, one 8-lane partial sum per row (four independent FMA chains).
void gemv(int64_t rows, int64_t cols, float alpha, const float* a, int64_t lda, const float* x,
          float beta, float* y) {
  auto finish = [&](int64_t i, float dot) {
    y[i] = beta == 0.0f ? alpha * dot : alpha * dot + beta * y[i];
  };
  int64_t i = 0;
  for (; i + 4 <= rows; i += 4) {
    const float* r[4] = {a + i * lda, a + (i + 1) * lda, a + (i + 2) * lda, a + (i + 3) * lda};
    __m256 s[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(),
                   _mm256_setzero_ps()};
    int64_t k = 0;
    for (; k + 8 <= cols; k += 8) {
      const __m256 xv = _mm256_loadu_ps(x + k);
      for (int q = 0; q < 4; ++q) s[q] = _mm256_fmadd_ps(_mm256_loadu_ps(r[q] + k), xv, s[q]);
    }
    if (k < cols) {
      const __m256 xv = load_first(x + k, cols - k);
      for (int q = 0; q < 4; ++q) s[q] = _mm256_fmadd_ps(load_first(r[q] + k, cols - k), xv, s[q]);
    }
    for (int q = 0; q < 4; ++q) finish(i + q, avx2::hsum(s[q]));
  }
  for (; i < rows; ++i) {
    const float* r = a + i * lda;
    __m256 s = _mm256_setzero_ps();
    for (int64_t k = 0; k < cols; k += 8) {
      const int64_t n = std::min<int64_t>(8, cols - k);
      s = _mm256_fmadd_ps(load_first(r + k, n), load_first(x + k, n), s);
    }
    finish(i, avx2::hsum(s));
  }
}

const SgemmKernels kSgemm = {"dlx-avx2", kMRMax,        kNR,           0.5,  0.12,
                             &micro,     &pack_b_panel, &pack_a_block, &gemv};

}  // namespace

DLX_PROVIDE_KERNELS(sgemm_kernels, kSgemm)

}  // namespace dlx::DLX_ISA_NS
