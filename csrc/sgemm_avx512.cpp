// AVX-512 level of dlx's float32 GEMM (sgemm_kernels.h): 14 x 32 register tiles (28 zmm
// accumulators, two B vectors and one broadcast of the 32 registers), the packers of that
// layout and the batch-1 GEMV. Built with the avx512 level's flags only.
#include <immintrin.h>

#include <algorithm>
#include <array>
#include <utility>

#include "avx512_util.h"
#include "sgemm_kernels.h"

namespace dlx::DLX_ISA_NS {
namespace {

using avx512::lane_mask;
using avx512::transpose16;

constexpr int kNR = 32;
constexpr int kMRMax = 14;

// C[0:MR, 0:32] (masked columns) = alpha * Ap @ Bp + beta * C; beta == 0 never reads C.
template <int MR>
void micro_kernel(int64_t kc, const float* __restrict ap, const float* __restrict bp, float* c,
                  int64_t ldc, float alpha, float beta, int64_t nc) {
  const __mmask16 m0 = lane_mask(nc), m1 = lane_mask(nc - 16);
  __m512 acc0[MR], acc1[MR];
#pragma GCC unroll 14
  for (int i = 0; i < MR; ++i) {
    acc0[i] = acc1[i] = _mm512_setzero_ps();
    // The C tile is needed only at the end: start fetching it now (it is often in L3).
    _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc + 16), _MM_HINT_T0);
  }
  for (int64_t p = 0; p < kc; ++p) {
    const __m512 b0 = _mm512_load_ps(bp), b1 = _mm512_load_ps(bp + 16);
#pragma GCC unroll 14
    for (int i = 0; i < MR; ++i) {
      const __m512 av = _mm512_set1_ps(ap[i]);
      acc0[i] = _mm512_fmadd_ps(av, b0, acc0[i]);
      acc1[i] = _mm512_fmadd_ps(av, b1, acc1[i]);
    }
    ap += MR;
    bp += kNR;
  }
  const __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
#pragma GCC unroll 14
  for (int i = 0; i < MR; ++i) {
    float* ci = c + i * ldc;
    __m512 r0 = _mm512_mul_ps(va, acc0[i]), r1 = _mm512_mul_ps(va, acc1[i]);
    if (beta != 0.0f) {
      r0 = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(m0, ci), r0);
      r1 = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(m1, ci + 16), r1);
    }
    _mm512_mask_storeu_ps(ci, m0, r0);
    _mm512_mask_storeu_ps(ci + 16, m1, r1);
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

// Packs A[i0:i0+mr, p0:p0+kc] of an A stored [M, K] as dst[p*mr + i]: transposes 16 (k) x mr
// blocks in registers; each packed row is a masked store of mr floats (rows of the tile
// beyond mr are zeros and never stored).
void pack_a_tile(const float* a, int64_t lda, int64_t i0, int64_t mr, int64_t p0, int64_t kc,
                 float* dst) {
  const __mmask16 rows = lane_mask(mr);
  for (int64_t p = 0; p < kc; p += 16) {
    const __mmask16 mk = lane_mask(kc - p);
    __m512 r[16];
    for (int64_t i = 0; i < 16; ++i)
      r[i] = i < mr ? _mm512_maskz_loadu_ps(mk, a + (i0 + i) * lda + p0 + p) : _mm512_setzero_ps();
    transpose16(r);
    const int64_t np = std::min<int64_t>(16, kc - p);
    for (int64_t q = 0; q < np; ++q) _mm512_mask_storeu_ps(dst + (p + q) * mr, rows, r[q]);
  }
}

// Packs op(B)[p0:p0+kc, j0:j0+nj] (nj <= 32) as dst[p*32 + j], zero beyond nj.
void pack_b_panel(bool trans_b, const float* b, int64_t ldb, int64_t p0, int64_t kc, int64_t j0,
                  int64_t nj, float* dst) {
  if (!trans_b) {  // B is [K, N]: each panel row is a (masked) copy of 32 floats
    const __mmask16 m0 = lane_mask(nj), m1 = lane_mask(nj - 16);
    const float* src = b + p0 * ldb + j0;
    for (int64_t p = 0; p < kc; ++p, src += ldb, dst += kNR) {
      _mm512_store_ps(dst, _mm512_maskz_loadu_ps(m0, src));
      _mm512_store_ps(dst + 16, _mm512_maskz_loadu_ps(m1, src + 16));
    }
    return;
  }
  // B is stored [N, K]: column j of op(B) is row j0 + j of B; transpose 16x16 blocks.
  for (int64_t jb = 0; jb < kNR; jb += 16) {
    const int64_t rows = std::clamp<int64_t>(nj - jb, 0, 16);
    for (int64_t p = 0; p < kc; p += 16) {
      const __mmask16 mk = lane_mask(kc - p);
      __m512 r[16];
      for (int64_t i = 0; i < 16; ++i)
        r[i] = i < rows ? _mm512_maskz_loadu_ps(mk, b + (j0 + jb + i) * ldb + p0 + p)
                        : _mm512_setzero_ps();
      transpose16(r);
      const int64_t np = std::min<int64_t>(16, kc - p);
      for (int64_t i = 0; i < np; ++i) _mm512_store_ps(dst + (p + i) * kNR + jb, r[i]);
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
  // A stored [K, M]: walk each stored row once, from left to right, handing every tile
  // its mr floats (rows of A sit lda apart; streaming them beats tile-by-tile strides).
  const float* src = a + p0 * lda + i0;
  for (int64_t p = 0; p < kc; ++p, src += lda) {
    for (int64_t t = 0; t < tiles.count; ++t) {
      const int64_t mr = tiles.rows(t), i = tiles.start(t);
      const __mmask16 m = lane_mask(mr);
      _mm512_mask_storeu_ps(dst + i * kc + p * mr, m, _mm512_maskz_loadu_ps(m, src + i));
    }
  }
}

// Four rows at a time, 16-lane dot products.
void gemv(int64_t rows, int64_t cols, float alpha, const float* a, int64_t lda, const float* x,
          float beta, float* y) {
  auto finish = [&](int64_t i, float dot) {
    y[i] = beta == 0.0f ? alpha * dot : alpha * dot + beta * y[i];
  };
  int64_t i = 0;
  for (; i + 4 <= rows; i += 4) {
    const float* r0 = a + i * lda;
    const float* r1 = r0 + lda;
    const float* r2 = r1 + lda;
    const float* r3 = r2 + lda;
    __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
    __m512 s2 = _mm512_setzero_ps(), s3 = _mm512_setzero_ps();
    for (int64_t k = 0; k < cols; k += 16) {
      const __mmask16 m = lane_mask(cols - k);
      const __m512 xv = _mm512_maskz_loadu_ps(m, x + k);
      s0 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, r0 + k), xv, s0);
      s1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, r1 + k), xv, s1);
      s2 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, r2 + k), xv, s2);
      s3 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, r3 + k), xv, s3);
    }
    finish(i, _mm512_reduce_add_ps(s0));
    finish(i + 1, _mm512_reduce_add_ps(s1));
    finish(i + 2, _mm512_reduce_add_ps(s2));
    finish(i + 3, _mm512_reduce_add_ps(s3));
  }
  for (; i < rows; ++i) {
    const float* r = a + i * lda;
    __m512 s0 = _mm512_setzero_ps();
    for (int64_t k = 0; k < cols; k += 16) {
      const __mmask16 m = lane_mask(cols - k);
      s0 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, r + k), _mm512_maskz_loadu_ps(m, x + k), s0);
    }
    finish(i, _mm512_reduce_add_ps(s0));
  }
}

const SgemmKernels kSgemm = {"dlx-avx512", kMRMax,        kNR,           1.0,  0.225,
                             &micro,       &pack_b_panel, &pack_a_block, &gemv};

}  // namespace

DLX_PROVIDE_KERNELS(sgemm_kernels, kSgemm)

}  // namespace dlx::DLX_ISA_NS
