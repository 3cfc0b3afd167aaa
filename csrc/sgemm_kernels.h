// What one ISA level provides to dlx's float32 GEMM (the driver in sgemm.cpp and the
// pre-packed operands in sgemm_pack.cpp are generic): the register-blocked micro-kernel
// and the packers of its operand layout. Levels: sgemm_avx512.cpp (14 x 32 tiles),
// sgemm_avx2.cpp (6 x 16). No intrinsics here, so generic code can include it.
//
// Packed layouts, for a K block of kc rows starting at p0:
//   B panel: op(B)[p0:p0+kc, j0:j0+nr] as panel[p * nr + j], zeros beyond the matrix edge.
//   A tile:  op(A)[i0:i0+mr, p0:p0+kc] as tile[p * mr + i] (mr rows, no padding).
#pragma once

#include <algorithm>
#include <cstdint>

#include "dispatch.h"

namespace dlx {

// An MC block of rows cut into ceil(mc / mr_max) tiles of (almost) equal height, so that a
// 16-row product on 14-row tiles runs two 8-row tiles rather than 14 + 2.
struct SgemmTiles {
  int64_t count, base, extra;  // first `extra` tiles have base + 1 rows
  SgemmTiles(int64_t mc, int64_t mr_max)
      : count((mc + mr_max - 1) / mr_max), base(mc / count), extra(mc % count) {}
  int64_t rows(int64_t t) const { return base + (t < extra); }
  int64_t start(int64_t t) const { return t * base + std::min(t, extra); }
};

struct SgemmKernels {
  const char* name;  // the GEMM's name in reports: "dlx-avx512", "dlx-avx2"
  int mr_max;        // rows of the tallest register tile
  int nr;            // panel width; a multiple of 16
  // Cache blocking (sgemm_blocking): the share of L1d one kc x nr panel of B may fill, and
  // of L2 for the mc x kc block of A, as measured best for this tile shape.
  double l1_share_b, l2_share_a;
  // C[0:mr, 0:nc] = alpha * A_tile @ B_panel + beta * C for a packed tile of `mr` rows
  // (1 <= mr <= mr_max) and a packed panel of which the first nc (1..nr) columns are stored
  // in C; columns nc.. of C are never touched, and beta == 0 never reads C.
  void (*micro_kernel)(int64_t mr, int64_t kc, const float* a_tile, const float* b_panel, float* c,
                       int64_t ldc, float alpha, float beta, int64_t nc);
  // Packs op(B)[p0:p0+kc, j0:j0+nj] (nj <= nr) as one panel; dst is 64-byte aligned.
  void (*pack_b_panel)(bool trans_b, const float* b, int64_t ldb, int64_t p0, int64_t kc,
                       int64_t j0, int64_t nj, float* dst);
  // Packs the tiles of op(A)[i0:i0+mc, p0:p0+kc]; tile t goes to dst + tiles.start(t) * kc.
  void (*pack_a_block)(bool trans_a, const float* a, int64_t lda, int64_t i0,
                       const SgemmTiles& tiles, int64_t p0, int64_t kc, float* dst);
  // y[0:rows] = alpha * A[rows, cols] @ x + beta * y (row stride lda, contiguous x and y);
  // beta == 0 never reads y.
  void (*gemv)(int64_t rows, int64_t cols, float alpha, const float* a, int64_t lda, const float* x,
               float beta, float* y);
};

extern KernelFamily<SgemmKernels> sgemm_kernels;

// Cache blocking of the active level (BLIS order): a kc x nr panel of B stays in L1 while
// the tiles of an mc x kc block of A (in L2) stream past it; the kc x nc block of B sits in
// L3. Chosen from the cache sizes of the CPU and the level's shares (sgemm.cpp).
struct SgemmBlocking {
  int64_t mc, kc, nc;
};
SgemmBlocking sgemm_blocking();
// Fixes the blocking (all > 0) or returns it to the cache-derived one (all 0). For tuning
// experiments only: never while a GEMM runs.
void set_sgemm_blocking(int64_t mc, int64_t kc, int64_t nc);
// The blocking for a level's kernels and the given cache sizes in bytes (per core; l3 the
// instance the core sees).
SgemmBlocking sgemm_blocking_for(const SgemmKernels& k, int64_t l1d, int64_t l2, int64_t l3);

// K cut into ceil(k / kc_max) blocks of (almost) equal size: K = 288 runs as 144 + 144, not
// 256 + 32 (a thin last block costs a full read-modify-write of C for little work).
struct SgemmKSplit {
  int64_t count, base, extra;
  SgemmKSplit(int64_t k, int64_t kc_max)
      : count((k + kc_max - 1) / kc_max), base(k / count), extra(k % count) {}
  int64_t size(int64_t i) const { return base + (i < extra); }
  int64_t start(int64_t i) const { return i * base + std::min(i, extra); }
};

}  // namespace dlx
