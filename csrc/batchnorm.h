// Batch normalisation over channel axis 1, PyTorch semantics.
//   x, y, gy, gx: (n, c, s), C-contiguous, where s is the product of the spatial sizes
//   (s = 1 for an (N, C) input).   weight, bias, running_*, save_*, gw, gb: (c).
//
// batch_norm_forward
//   training: mean and biased variance over the n * s values of each channel (sums in
//     double, two passes); save_mean = mean, save_invstd = 1 / sqrt(var + eps). When
//     running_mean / running_var are given they are updated IN PLACE:
//       running = (1 - momentum) * running + momentum * batch, with the UNBIASED variance.
//     An empty batch (n * s == 0) leaves them untouched and saves mean = invstd = 0.
//   eval: save_mean = running_mean, save_invstd = 1 / sqrt(running_var + eps) (both
//     required; the binding checks).
//   y = (x - save_mean) * save_invstd * weight + bias; weight / bias may be nullptr
//   (1 and 0).
// batch_norm_backward, with k = weight * invstd (weight = 1 when nullptr), M = n * s:
//   gb = sum(gy), gw = invstd * sum(gy * (x - mean))   (per channel; gw may be nullptr)
//   training: gx = k * (gy - gb / M - (x - mean) * invstd^2 * sum(gy * (x - mean)) / M)
//   eval:     gx = k * gy   (the statistics are constants)
// Outputs are overwritten. Channels (reductions) and rows (element-wise) run in parallel.
#pragma once

#include <cstdint>

namespace dlx {

template <typename T>
void batch_norm_forward(const T* x, const T* weight, const T* bias, T* running_mean, T* running_var,
                        T* y, T* save_mean, T* save_invstd, int64_t n, int64_t c, int64_t s,
                        bool training, double momentum, double eps);

template <typename T>
void batch_norm_backward(const T* gy, const T* x, const T* weight, const T* save_mean,
                         const T* save_invstd, T* gx, T* gw, T* gb, int64_t n, int64_t c, int64_t s,
                         bool training);

}  // namespace dlx
