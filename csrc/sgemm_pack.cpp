// Pre-packed operands of dlx's own float32 GEMM, the sourced products and the batch-1
// GEMV (generic code over the active level's packers, sgemm_kernels.h).
#include <cstdlib>
#include <new>

#include "sgemm.h"
#include "sgemm_driver.h"

namespace dlx {

using sgemm_detail::drive;
using sgemm_detail::Problem;

void own_sgemv(int64_t rows, int64_t cols, float alpha, const float* a, int64_t lda, const float* x,
               float beta, float* y) {
  sgemm_kernels.get()->gemv(rows, cols, alpha, a, lda, x, beta, y);
}

namespace {
float* alloc_floats(int64_t count) {
  const size_t bytes = static_cast<size_t>(count) * sizeof(float);
  auto* p = static_cast<float*>(std::aligned_alloc(64, (bytes + 63) / 64 * 64 + 64));
  if (p == nullptr) throw std::bad_alloc();
  return p;
}
}  // namespace

// Layout: column blocks of nc, each split into the K blocks of SgemmKSplit, each a run of
// panels.
SgemmPackedB::SgemmPackedB(bool trans_b, int64_t k, int64_t n, const float* b, int64_t ldb)
    : k_(k), n_(n), blk_(sgemm_blocking()), ker_(sgemm_kernels.get()) {
  const int64_t nr = ker_->nr, panels = (n + nr - 1) / nr;
  data_ = alloc_floats(panels * nr * k);
  for (int64_t jc = 0; jc < n; jc += blk_.nc) {
    const int64_t nc = std::min(blk_.nc, n - jc);
    const SgemmKSplit ks(k, blk_.kc);
    for (int64_t pi = 0; pi < ks.count; ++pi) {
      const int64_t pc = ks.start(pi), kc = ks.size(pi);
      float* dst = const_cast<float*>(block(jc / blk_.nc, pi));
      for (int64_t q = 0; q * nr < nc; ++q)
        ker_->pack_b_panel(trans_b, b, ldb, pc, kc, jc + q * nr, std::min(nr, nc - q * nr),
                           dst + q * kc * nr);
    }
  }
}

SgemmPackedB::~SgemmPackedB() { std::free(data_); }

const float* SgemmPackedB::block(int64_t jc_index, int64_t pc_index) const {
  // Every full column block holds nc / nr panels of k rows; inside the block, the K blocks
  // before pc_index hold SgemmKSplit's rows before it.
  const int64_t nr = ker_->nr, jc = jc_index * blk_.nc, nc = std::min(blk_.nc, n_ - jc);
  const int64_t panels = (nc + nr - 1) / nr;
  return data_ + jc * k_ + SgemmKSplit(k_, blk_.kc).start(pc_index) * panels * nr;
}

void SgemmPackedB::multiply(bool trans_a, int64_t m, float alpha, const float* a, int64_t lda,
                            float beta, float* c, int64_t ldc) const {
  Problem pr{trans_a, false, m, n_, k_, alpha, a, lda, nullptr, 0, beta, c, ldc};
  pr.packed_b = this;
  drive(pr);
}

// Layout: row blocks of mc, each split into the K blocks of SgemmKSplit; a block holds its
// tiles as pack_a_block writes them (tile t at start(t) * kc).
SgemmPackedA::SgemmPackedA(bool trans_a, int64_t m, int64_t k, const float* a, int64_t lda)
    : m_(m), k_(k), blk_(sgemm_blocking()), ker_(sgemm_kernels.get()) {
  data_ = alloc_floats(m * k);
  for (int64_t ic = 0; ic < m; ic += blk_.mc) {
    const SgemmTiles tiles(std::min(blk_.mc, m - ic), ker_->mr_max);
    const SgemmKSplit ks(k, blk_.kc);
    for (int64_t pi = 0; pi < ks.count; ++pi)
      ker_->pack_a_block(trans_a, a, lda, ic, tiles, ks.start(pi), ks.size(pi),
                         const_cast<float*>(block(ic / blk_.mc, pi)));
  }
}

SgemmPackedA::~SgemmPackedA() { std::free(data_); }

const float* SgemmPackedA::block(int64_t ic_index, int64_t pc_index) const {
  const int64_t ic = ic_index * blk_.mc, mc = std::min(blk_.mc, m_ - ic);
  return data_ + ic * k_ + SgemmKSplit(k_, blk_.kc).start(pc_index) * mc;
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
