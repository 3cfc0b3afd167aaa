// Row kernels of layer / RMS / group normalisation (norm_kernels.h), compiled once per ISA
// level. Sums run on kLanes independent accumulators added in a fixed order (GCC
// vectorises that form without -ffast-math); element-wise passes are plain loops.
#include <cmath>
#include <cstdint>

#include "norm_kernels.h"

namespace dlx::DLX_ISA_NS {
namespace {

constexpr int64_t kLanes = 16;

// sum of f(i) for i in [0, n) on kLanes accumulators of type A, lanes added in order (in
// double). float rows accumulate in float lanes (each lane holds n / 16 terms; this keeps
// the loop at full vector width), double rows in double.
template <typename A, typename F>
inline double lanes_sum(int64_t n, F f) {
  A acc[kLanes] = {};
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    for (int64_t k = 0; k < kLanes; ++k) acc[k] += f(i + k);
  }
  double s = 0.0;
  for (int64_t k = 0; k < kLanes; ++k) s += static_cast<double>(acc[k]);
  for (; i < n; ++i) s += static_cast<double>(f(i));
  return s;
}

template <typename T>
void moments(const T* x, int64_t n, bool center, double eps, double* mean, double* rstd) {
  if (n == 0) {
    *mean = 0.0;
    *rstd = 1.0 / std::sqrt(eps);
    return;
  }
  const double inv_n = 1.0 / static_cast<double>(n);
  double mu = 0.0;
  if (center) mu = lanes_sum<T>(n, [x](int64_t i) { return x[i]; }) * inv_n;
  const T m = static_cast<T>(mu);
  const double var = lanes_sum<T>(n,
                                  [x, m](int64_t i) {
                                    const T d = x[i] - m;
                                    return d * d;
                                  }) *
                     inv_n;
  *mean = mu;
  *rstd = 1.0 / std::sqrt(var + eps);
}

template <typename T>
void normalize(const T* x, const T* w, const T* b, T mean, T rstd, T* y, int64_t n) {
  if (w != nullptr && b != nullptr) {
    for (int64_t i = 0; i < n; ++i) y[i] = (x[i] - mean) * rstd * w[i] + b[i];
  } else if (w != nullptr) {
    for (int64_t i = 0; i < n; ++i) y[i] = (x[i] - mean) * rstd * w[i];
  } else if (b != nullptr) {
    for (int64_t i = 0; i < n; ++i) y[i] = (x[i] - mean) * rstd + b[i];
  } else {
    for (int64_t i = 0; i < n; ++i) y[i] = (x[i] - mean) * rstd;
  }
}

template <typename T>
void backward(const T* gy, const T* x, const T* w, bool center, T mean, T rstd, T* gx,
              double* gw_acc, double* gb_acc, int64_t n) {
  if (gw_acc != nullptr && gb_acc != nullptr) {
    for (int64_t i = 0; i < n; ++i) {
      gw_acc[i] += static_cast<double>(gy[i] * ((x[i] - mean) * rstd));
      gb_acc[i] += static_cast<double>(gy[i]);
    }
  } else if (gw_acc != nullptr) {
    for (int64_t i = 0; i < n; ++i) {
      gw_acc[i] += static_cast<double>(gy[i] * ((x[i] - mean) * rstd));
    }
  } else if (gb_acc != nullptr) {
    for (int64_t i = 0; i < n; ++i) gb_acc[i] += static_cast<double>(gy[i]);
  }
  if (gx == nullptr || n == 0) return;
  // sum(g) and sum(g * xhat), g = gy * w: two single-sum passes (GCC vectorises each
  // cleanly; a two-accumulator lane loop was spilled to the stack and ran ~10x slower).
  double sum_g = 0.0, sum_gxhat = 0.0;
  if (w != nullptr) {
    if (center) sum_g = lanes_sum<T>(n, [gy, w](int64_t i) { return gy[i] * w[i]; });
    sum_gxhat = lanes_sum<T>(n, [=](int64_t i) { return gy[i] * w[i] * ((x[i] - mean) * rstd); });
  } else {
    if (center) sum_g = lanes_sum<T>(n, [gy](int64_t i) { return gy[i]; });
    sum_gxhat = lanes_sum<T>(n, [=](int64_t i) { return gy[i] * ((x[i] - mean) * rstd); });
  }
  if (!center) sum_g = 0.0;
  const double inv_n = 1.0 / static_cast<double>(n);
  // gx = rstd * g - rstd * mean(g) - xhat * rstd * mean(g * xhat)
  const T a = static_cast<T>(sum_g * inv_n), c = static_cast<T>(sum_gxhat * inv_n);
  if (w != nullptr) {
    for (int64_t i = 0; i < n; ++i) gx[i] = rstd * (gy[i] * w[i] - a - (x[i] - mean) * rstd * c);
  } else {
    for (int64_t i = 0; i < n; ++i) gx[i] = rstd * (gy[i] - a - (x[i] - mean) * rstd * c);
  }
}

template <typename T>
void sums(const T* gy, const T* x, int64_t n, double* sum_gy, double* sum_gyx) {
  *sum_gy = lanes_sum<T>(n, [gy](int64_t i) { return gy[i]; });
  *sum_gyx = lanes_sum<T>(n, [gy, x](int64_t i) { return gy[i] * x[i]; });
}

template <typename T>
void scale_shift(const T* x, T a, T b, T* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = x[i] * a + b;
}

template <typename T>
void combine(const T* gy, const T* x, T a, T b, T c, T* gx, int64_t n) {
  for (int64_t i = 0; i < n; ++i) gx[i] = gy[i] * a + x[i] * b + c;
}

#define DLX_NORM_FNS(T)                                                                     \
  NormRowFns<T> {                                                                           \
    &moments<T>, &normalize<T>, &backward<T>, &sums<T>, &scale_shift<T>, &combine<T> \
  }
const NormKernels kNorm = {DLX_NORM_FNS(float), DLX_NORM_FNS(double)};

}  // namespace

DLX_PROVIDE_KERNELS(norm_kernels, kNorm)

}  // namespace dlx::DLX_ISA_NS
