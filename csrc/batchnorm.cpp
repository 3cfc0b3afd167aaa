#include "batchnorm.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "common.h"
#include "threads.h"

namespace dlx {
namespace {

constexpr int64_t kParallelWork = 32768;  // elements below which a call stays on one thread
constexpr int64_t kLanes = 8;             // independent partial sums per channel (vectorisable)
constexpr int64_t kRowBlock = 64;         // channels per task for an (N, C) input

// Per-channel sums a[ch], b[ch] (double): elem(i, ch, a, b) adds element i's terms. The
// order of additions depends only on the shape, never on the thread count.
template <typename Elem>
void channel_sums(int64_t n, int64_t c, int64_t s, double* a, double* b, Elem elem) {
  const int64_t total = n * c * s;
  if (s == 1) {  // (N, C): rows are contiguous over channels, so sum blocks of columns
    const int64_t blocks = (c + kRowBlock - 1) / kRowBlock;
#pragma omp parallel for num_threads(num_threads()) schedule(static) if (total > kParallelWork)
    for (int64_t blk = 0; blk < blocks; ++blk) {
      const int64_t c0 = blk * kRowBlock, c1 = std::min(c, c0 + kRowBlock);
      double sa[kRowBlock] = {}, sb[kRowBlock] = {};
      for (int64_t i = 0; i < n; ++i) {
        for (int64_t ch = c0; ch < c1; ++ch) elem(i * c + ch, ch, sa[ch - c0], sb[ch - c0]);
      }
      for (int64_t ch = c0; ch < c1; ++ch) {
        a[ch] = sa[ch - c0];
        b[ch] = sb[ch - c0];
      }
    }
    return;
  }
#pragma omp parallel for num_threads(num_threads()) schedule(static) if (total > kParallelWork)
  for (int64_t ch = 0; ch < c; ++ch) {
    double sa[kLanes] = {}, sb[kLanes] = {};
    for (int64_t i = 0; i < n; ++i) {
      const int64_t off = (i * c + ch) * s;
      int64_t j = 0;
      for (; j + kLanes <= s; j += kLanes) {
        for (int64_t l = 0; l < kLanes; ++l) elem(off + j + l, ch, sa[l], sb[l]);
      }
      for (; j < s; ++j) elem(off + j, ch, sa[0], sb[0]);
    }
    double ta = 0.0, tb = 0.0;
    for (int64_t l = 0; l < kLanes; ++l) {
      ta += sa[l];
      tb += sb[l];
    }
    a[ch] = ta;
    b[ch] = tb;
  }
}

// out[i] = op(i) for every element, where op = make(ch) is built once per channel run.
template <typename Make>
void channel_map(int64_t n, int64_t c, int64_t s, Make make) {
  const int64_t total = n * c * s;
  if (s == 1) {
#pragma omp parallel for num_threads(num_threads()) schedule(static) if (total > kParallelWork)
    for (int64_t i = 0; i < n; ++i) {
      for (int64_t ch = 0; ch < c; ++ch) make(ch)(i * c + ch);
    }
    return;
  }
#pragma omp parallel for collapse(2) num_threads(num_threads()) \
    schedule(static) if (total > kParallelWork)
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t ch = 0; ch < c; ++ch) {
      const auto op = make(ch);
      const int64_t off = (i * c + ch) * s;
      for (int64_t j = 0; j < s; ++j) op(off + j);
    }
  }
}

}  // namespace

template <typename T>
void batch_norm_forward(const T* x, const T* weight, const T* bias, T* running_mean, T* running_var,
                        T* y, T* save_mean, T* save_invstd, int64_t n, int64_t c, int64_t s,
                        bool training, double momentum, double eps) {
  const int64_t m = n * s;  // values per channel
  std::vector<double> mean(c), var(c), unused(c);
  if (training && m > 0) {
    channel_sums(n, c, s, mean.data(), unused.data(),
                 [&](int64_t i, int64_t, double& a, double&) { a += x[i]; });
    for (int64_t ch = 0; ch < c; ++ch) mean[ch] /= static_cast<double>(m);
    const double* mu = mean.data();
    channel_sums(n, c, s, var.data(), unused.data(),
                 [&](int64_t i, int64_t ch, double& a, double&) {
                   const double d = static_cast<double>(x[i]) - mu[ch];
                   a += d * d;
                 });
    for (int64_t ch = 0; ch < c; ++ch) {
      var[ch] /= static_cast<double>(m);
      save_mean[ch] = static_cast<T>(mean[ch]);
      save_invstd[ch] = static_cast<T>(1.0 / std::sqrt(var[ch] + eps));
      if (running_mean != nullptr) {
        const double unbiased = m > 1 ? var[ch] * m / static_cast<double>(m - 1) : var[ch];
        running_mean[ch] =
            static_cast<T>((1.0 - momentum) * running_mean[ch] + momentum * mean[ch]);
        running_var[ch] = static_cast<T>((1.0 - momentum) * running_var[ch] + momentum * unbiased);
      }
    }
  } else if (training) {  // empty batch: nothing to normalise, running stats untouched
    std::fill_n(save_mean, c, T(0));
    std::fill_n(save_invstd, c, T(0));
  } else {
    for (int64_t ch = 0; ch < c; ++ch) {
      save_mean[ch] = running_mean[ch];
      save_invstd[ch] = static_cast<T>(1.0 / std::sqrt(static_cast<double>(running_var[ch]) + eps));
    }
  }
  std::vector<T> shift(c), scale(c), offset(c);
  for (int64_t ch = 0; ch < c; ++ch) {
    shift[ch] = save_mean[ch];
    const double w = weight ? static_cast<double>(weight[ch]) : 1.0;
    scale[ch] = static_cast<T>(w * static_cast<double>(save_invstd[ch]));
    offset[ch] = bias ? bias[ch] : T(0);
  }
  channel_map(n, c, s, [&](int64_t ch) {
    const T sh = shift[ch], k = scale[ch], b = offset[ch];
    return [=](int64_t i) { y[i] = (x[i] - sh) * k + b; };
  });
}

template <typename T>
void batch_norm_backward(const T* gy, const T* x, const T* weight, const T* save_mean,
                         const T* save_invstd, T* gx, T* gw, T* gb, int64_t n, int64_t c, int64_t s,
                         bool training) {
  const int64_t m = n * s;
  std::vector<double> sum_gy(c), sum_gy_xmu(c);
  std::vector<T> mean(save_mean, save_mean + c);
  const T* mu = mean.data();
  channel_sums(n, c, s, sum_gy.data(), sum_gy_xmu.data(),
               [&](int64_t i, int64_t ch, double& a, double& b) {
                 const double g = gy[i];
                 a += g;
                 b += g * (static_cast<double>(x[i]) - static_cast<double>(mu[ch]));
               });
  // gx = gy * k + (x - mean) * q + r per channel (q = r = 0 in eval mode).
  std::vector<T> k(c), q(c), r(c);
  for (int64_t ch = 0; ch < c; ++ch) {
    const double invstd = save_invstd[ch];
    const double kk = (weight ? static_cast<double>(weight[ch]) : 1.0) * invstd;
    gb[ch] = static_cast<T>(sum_gy[ch]);
    if (gw != nullptr) gw[ch] = static_cast<T>(sum_gy_xmu[ch] * invstd);
    k[ch] = static_cast<T>(kk);
    const bool batch_stats = training && m > 0;
    q[ch] = batch_stats ? static_cast<T>(-kk * invstd * invstd * sum_gy_xmu[ch] / m) : T(0);
    r[ch] = batch_stats ? static_cast<T>(-kk * sum_gy[ch] / m) : T(0);
  }
  channel_map(n, c, s, [&](int64_t ch) {
    const T kc = k[ch], qc = q[ch], rc = r[ch], mc = mu[ch];
    return [=](int64_t i) { gx[i] = gy[i] * kc + (x[i] - mc) * qc + rc; };
  });
}

#define DLX_BATCHNORM(T)                                                                         \
  template void batch_norm_forward<T>(const T*, const T*, const T*, T*, T*, T*, T*, T*, int64_t, \
                                      int64_t, int64_t, bool, double, double);                   \
  template void batch_norm_backward<T>(const T*, const T*, const T*, const T*, const T*, T*, T*, \
                                       T*, int64_t, int64_t, int64_t, bool);
DLX_INSTANTIATE(DLX_BATCHNORM)

}  // namespace dlx
