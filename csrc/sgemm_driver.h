// Internals of dlx's own float32 GEMM shared by the driver (sgemm.cpp) and the pre-packed
// operands (sgemm_pack.cpp). Generic code: the level's kernels come from sgemm_kernels.
#pragma once

#include <cstdint>

#include "sgemm.h"
#include "sgemm_kernels.h"

namespace dlx::sgemm_detail {

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

// Runs the product with the active level's kernels (and the blocking the packed operands
// were made with), on the calling thread or on a team when it is large enough and no
// OpenMP region is active.
void drive(const Problem& pr);

}  // namespace dlx::sgemm_detail
