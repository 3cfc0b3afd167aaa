// Layer, RMS and group normalisation, PyTorch semantics (biased variance, eps inside the
// square root). All arrays C-contiguous; statistics in double, outputs overwritten.
//
// layer_norm_forward: x, y (m, n), n = prod(normalized_shape); weight, bias (n) or nullptr
//   (1 and 0). Per row: mean, rstd = 1 / sqrt(var + eps); y = (x - mean) * rstd * w + b.
//   center = false is RMSNorm: mean = 0, var = mean(x^2), bias must be nullptr; `mean`
//   may then be nullptr. mean, rstd: (m).
// layer_norm_backward, xhat = (x - mean) * rstd, g = gy * w:
//   gx = rstd * (g - mean(g) - xhat * mean(g * xhat))     (center = false: no mean(g) term)
//   gw = sum over rows of gy * xhat, gb = sum over rows of gy (each may be nullptr).
//   Rows are split into a number of chunks that depends only on the shape, and the chunks'
//   partial sums are added in order: the result does not depend on the thread count.
// group_norm_forward: x, y (n, c, s) with c = groups * (c / groups); statistics over each
//   (sample, group) block of (c / groups) * s values; weight, bias (c) or nullptr.
//   mean, rstd: (n, groups).
// group_norm_backward: the same formulas with the per-channel affine; gw, gb (c) or nullptr.
#pragma once

#include <cstdint>

namespace dlx {

template <typename T>
void layer_norm_forward(const T* x, const T* weight, const T* bias, T* y, T* mean, T* rstd,
                        int64_t m, int64_t n, double eps, bool center);

template <typename T>
void layer_norm_backward(const T* gy, const T* x, const T* weight, const T* mean, const T* rstd,
                         T* gx, T* gw, T* gb, int64_t m, int64_t n, bool center);

template <typename T>
void group_norm_forward(const T* x, const T* weight, const T* bias, T* y, T* mean, T* rstd,
                        int64_t n, int64_t c, int64_t s, int64_t groups, double eps);

template <typename T>
void group_norm_backward(const T* gy, const T* x, const T* weight, const T* mean, const T* rstd,
                         T* gx, T* gw, T* gb, int64_t n, int64_t c, int64_t s, int64_t groups);

}  // namespace dlx
