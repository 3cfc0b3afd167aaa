// Packing for dlx's own float32 GEMM, the pre-packed operands and the batch-1 GEMV.
#include "sgemm.h"

#if defined(__AVX512F__)
#include <cstdlib>
#include <new>

#include "avx512_util.h"
#include "sgemm_detail.h"

namespace dlx {
namespace sgemm_detail {

using avx512::lane_mask;
using avx512::transpose16;

namespace {

// Packs A[i0:i0+mr, p0:p0+kc] of an A stored [M, K] as dst[p*mr + i]: transposes 16 (k) x mr
// blocks in registers; each packed row is a masked store of mr floats (rows of the tile
// beyond mr are zeros and never stored). pack_a_block handles A stored [K, M] itself.
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

}  // namespace

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
    int64_t p = 0;
    for (; p < kc; p += 16) {
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

// Packs the tiles of op(A)[i0:i0+mc, p0:p0+kc]; tile t goes to dst + start(t) * kc.
void pack_a_block(bool trans_a, const float* a, int64_t lda, int64_t i0, const Tiles& tiles,
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

}  // namespace sgemm_detail

using avx512::lane_mask;
using sgemm_detail::drive;
using sgemm_detail::kKC;
using sgemm_detail::kMC;
using sgemm_detail::kNC;
using sgemm_detail::kNR;
using sgemm_detail::KSplit;
using sgemm_detail::pack_a_block;
using sgemm_detail::pack_b_panel;
using sgemm_detail::Problem;
using sgemm_detail::Tiles;

void own_sgemv(int64_t rows, int64_t cols, float alpha, const float* a, int64_t lda, const float* x,
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

// Layout: column blocks of kNC, each split into the K blocks of KSplit, each a run of panels.
SgemmPackedB::SgemmPackedB(bool trans_b, int64_t k, int64_t n, const float* b, int64_t ldb)
    : k_(k), n_(n) {
  const int64_t panels = (n + kNR - 1) / kNR;
  const size_t bytes = static_cast<size_t>(panels * kNR * k) * sizeof(float);
  data_ = static_cast<float*>(std::aligned_alloc(64, (bytes + 63) / 64 * 64));
  if (data_ == nullptr) throw std::bad_alloc();
  for (int64_t jc = 0; jc < n; jc += kNC) {
    const int64_t nc = std::min(kNC, n - jc);
    const KSplit ks(k);
    for (int64_t pi = 0; pi < ks.count; ++pi) {
      const int64_t pc = ks.start(pi), kc = ks.size(pi);
      float* dst = const_cast<float*>(block(jc / kNC, pi));
      for (int64_t q = 0; q * kNR < nc; ++q)
        pack_b_panel(trans_b, b, ldb, pc, kc, jc + q * kNR, std::min<int64_t>(kNR, nc - q * kNR),
                     dst + q * kc * kNR);
    }
  }
}

SgemmPackedB::~SgemmPackedB() { std::free(data_); }

const float* SgemmPackedB::block(int64_t jc_index, int64_t pc_index) const {
  // Every full column block holds kNC / kNR panels of k rows; inside the block, the K
  // blocks before pc_index hold KSplit's rows before it.
  const int64_t jc = jc_index * kNC, nc = std::min(kNC, n_ - jc);
  const int64_t panels = (nc + kNR - 1) / kNR;
  return data_ + jc * k_ + KSplit(k_).start(pc_index) * panels * kNR;
}

void SgemmPackedB::multiply(bool trans_a, int64_t m, float alpha, const float* a, int64_t lda,
                            float beta, float* c, int64_t ldc) const {
  Problem pr{trans_a, false, m, n_, k_, alpha, a, lda, nullptr, 0, beta, c, ldc};
  pr.packed_b = this;
  drive(pr);
}

// Layout: row blocks of kMC, each split into the K blocks of KSplit; a block holds its tiles as
// pack_a_block writes them (tile t at start(t) * kc).
SgemmPackedA::SgemmPackedA(bool trans_a, int64_t m, int64_t k, const float* a, int64_t lda)
    : m_(m), k_(k) {
  const size_t bytes = static_cast<size_t>(m * k) * sizeof(float);
  data_ = static_cast<float*>(std::aligned_alloc(64, (bytes + 63) / 64 * 64 + 64));
  if (data_ == nullptr) throw std::bad_alloc();
  for (int64_t ic = 0; ic < m; ic += kMC) {
    const Tiles tiles(std::min(kMC, m - ic));
    const KSplit ks(k);
    for (int64_t pi = 0; pi < ks.count; ++pi)
      pack_a_block(trans_a, a, lda, ic, tiles, ks.start(pi), ks.size(pi),
                   const_cast<float*>(block(ic / kMC, pi)));
  }
}

SgemmPackedA::~SgemmPackedA() { std::free(data_); }

const float* SgemmPackedA::block(int64_t ic_index, int64_t pc_index) const {
  const int64_t ic = ic_index * kMC, mc = std::min(kMC, m_ - ic);
  return data_ + ic * k_ + KSplit(k_).start(pc_index) * mc;
}

void own_sgemm_sourced(const SgemmPackedA& a, int64_t n, const SgemmBSource& b, float alpha,
                       float beta, float* c, int64_t ldc) {
  Problem pr{false, false, a.m(), n, a.k(), alpha, nullptr, 0, nullptr, 0, beta, c, ldc};
  pr.packed_a = &a;
  pr.source_b = &b;
  drive(pr);
}

void own_sgemm_sourced(bool trans_a, int64_t m, int64_t n, int64_t k, const float* a, int64_t lda,
                       const SgemmBSource& b, float alpha, float beta, float* c, int64_t ldc) {
  Problem pr{trans_a, false, m, n, k, alpha, a, lda, nullptr, 0, beta, c, ldc};
  pr.source_b = &b;
  drive(pr);
}

}  // namespace dlx
#endif
