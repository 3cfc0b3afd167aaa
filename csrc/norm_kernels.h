// The row kernels of layer / RMS / group normalisation per ISA level (norm_levels.cpp,
// vectorised by the compiler for each level); norm.cpp drives them over rows and groups.
// Row sums run on 16 fixed lanes of the row's type, added in order in double; the order is
// fixed, so results depend on the level only (never on the thread count).
#pragma once

#include <cstdint>

#include "dispatch.h"

namespace dlx {

template <typename T>
struct NormRowFns {
  // mean (0 when !center) and 1 / sqrt(var + eps) of x[0, n); var is biased (the mean of
  // squares when !center).
  void (*moments)(const T* x, int64_t n, bool center, double eps, double* mean, double* rstd);
  // y = (x - mean) * rstd * w + b; w, b may be nullptr.
  void (*normalize)(const T* x, const T* w, const T* b, T mean, T rstd, T* y, int64_t n);
  // One row of layer_norm_backward (norm.h); gw_acc, gb_acc (double, n) accumulate
  // gy * xhat and gy when not nullptr.
  void (*backward)(const T* gy, const T* x, const T* w, bool center, T mean, T rstd, T* gx,
                   double* gw_acc, double* gb_acc, int64_t n);
  // sum(gy) and sum(gy * x) over [0, n).
  void (*sums)(const T* gy, const T* x, int64_t n, double* sum_gy, double* sum_gyx);
  // y = x * a + b.
  void (*scale_shift)(const T* x, T a, T b, T* y, int64_t n);
  // gx = gy * a + x * b + c.
  void (*combine)(const T* gy, const T* x, T a, T b, T c, T* gx, int64_t n);
};
using NormKernels = PerType<NormRowFns>;
extern KernelFamily<NormKernels> norm_kernels;

}  // namespace dlx
