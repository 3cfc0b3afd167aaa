// Per-level pieces of the pooling kernels (pool.cpp is generic). Levels: pool_avx512.cpp,
// pool_avx2.cpp; without one, pool.cpp's portable loops run.
#pragma once

#include <cstdint>

#include "dispatch.h"

namespace dlx {

struct PoolKernels {
  // One output row of the 2x2 / stride-2 max pool (float32) from input rows r0 and r1:
  // y[ow] and its flat index idx[ow] = base + offset of the winning tap, taps compared in
  // window order (first tap, then taps that are greater or NaN). Returns how many outputs
  // it wrote from ow = 0 (the rest is left to the portable loop).
  int64_t (*max_pool_2x2_row)(const float* r0, const float* r1, float* y, int64_t* idx,
                              int64_t base, int64_t w_in, int64_t w_out);
};
extern KernelFamily<PoolKernels> pool_kernels;

}  // namespace dlx
