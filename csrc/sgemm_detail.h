// Internals of dlx's own float32 GEMM shared by sgemm.cpp (micro-kernel and blocking loops)
// and sgemm_pack.cpp (packing, pre-packed operands, GEMV). AVX-512 builds only.
#pragma once

#if defined(__AVX512F__)
#include <algorithm>
#include <cstdint>

#include "sgemm.h"

namespace dlx::sgemm_detail {

// Blocking (BLIS order): a KC x NR panel of B stays in L1 while the MR x KC tiles of an
// MC x KC block of A (in L2) stream past it; the KC x NC block of B sits in L3.
constexpr int kNR = 32;       // two zmm columns
constexpr int kMRMax = 14;    // 28 accumulators + 2 B vectors + 1 broadcast of 32 zmm
constexpr int64_t kKC = 256;  // at most; K is cut into blocks of equal size (KSplit)
constexpr int64_t kMC = 224;  // 16 tiles of 14
constexpr int64_t kNC = 3072;

// An MC block of rows cut into ceil(mc / 14) tiles of (almost) equal height, so that a
// 16-row product runs two 8-row tiles rather than 14 + 2.
struct Tiles {
  int64_t count, base, extra;  // first `extra` tiles have base + 1 rows
  explicit Tiles(int64_t mc)
      : count((mc + kMRMax - 1) / kMRMax), base(mc / count), extra(mc % count) {}
  int64_t rows(int64_t t) const { return base + (t < extra); }
  int64_t start(int64_t t) const { return t * base + std::min(t, extra); }
};

// K cut into ceil(k / kKC) blocks of (almost) equal size: K = 288 runs as 144 + 144, not
// 256 + 32 (a thin last block costs a full read-modify-write of C for little work).
struct KSplit {
  int64_t count, base, extra;
  explicit KSplit(int64_t k) : count((k + kKC - 1) / kKC), base(k / count), extra(k % count) {}
  int64_t size(int64_t i) const { return base + (i < extra); }
  int64_t start(int64_t i) const { return i * base + std::min(i, extra); }
};

// Packs op(B)[p0:p0+kc, j0:j0+nj] (nj <= 32) as dst[p*32 + j], zero beyond nj.
void pack_b_panel(bool trans_b, const float* b, int64_t ldb, int64_t p0, int64_t kc, int64_t j0,
                  int64_t nj, float* dst);
// Packs the tiles of op(A)[i0:i0+mc, p0:p0+kc]; tile t goes to dst + start(t) * kc.
void pack_a_block(bool trans_a, const float* a, int64_t lda, int64_t i0, const Tiles& tiles,
                  int64_t p0, int64_t kc, float* dst);

// One product: plain operands, or A pre-packed, or B pre-packed or from a source.
struct Problem {
  bool ta, tb;
  int64_t m, n, k;
  float alpha;
  const float* a;
  int64_t lda;
  const float* b;
  int64_t ldb;
  float beta;
  float* c;
  int64_t ldc;
  const SgemmPackedA* packed_a = nullptr;
  const SgemmPackedB* packed_b = nullptr;
  const SgemmBSource* source_b = nullptr;
};

// Runs the product on the calling thread, or on a team when it is large enough and no
// OpenMP region is active (sgemm.cpp).
void drive(const Problem& pr);

}  // namespace dlx::sgemm_detail
#endif
