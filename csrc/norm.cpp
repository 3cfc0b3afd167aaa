// Drivers of layer / RMS / group normalisation (norm.h): OpenMP over rows or groups, the
// active level's row kernels (norm_kernels.h) inside. Parameter-gradient partial sums go to
// a workspace whose split depends only on the shape (deterministic for any thread count).
#include "norm.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "common.h"
#include "norm_kernels.h"
#include "threads.h"

namespace dlx {

KernelFamily<NormKernels> norm_kernels{"norm"};

namespace {

constexpr int64_t kParallelWork = 16384;  // elements below which a call stays on one thread
constexpr int64_t kChunkWork = 32768;     // elements per parameter-gradient chunk
constexpr int64_t kMaxChunks = 8;

template <typename T>
const NormRowFns<T>& fns() {
  return norm_kernels.get()->of<T>();
}

}  // namespace

template <typename T>
void layer_norm_forward(const T* x, const T* weight, const T* bias, T* y, T* mean, T* rstd,
                        int64_t m, int64_t n, double eps, bool center) {
  const NormRowFns<T>& k = fns<T>();
#pragma omp parallel for num_threads(num_threads()) schedule(static) if (m * n > kParallelWork)
  for (int64_t r = 0; r < m; ++r) {
    double mu = 0.0, rs = 0.0;
    k.moments(x + r * n, n, center, eps, &mu, &rs);
    const T mu_t = static_cast<T>(mu), rs_t = static_cast<T>(rs);
    if (mean != nullptr) mean[r] = mu_t;
    rstd[r] = rs_t;
    k.normalize(x + r * n, weight, bias, mu_t, rs_t, y + r * n, n);
  }
}

template <typename T>
void layer_norm_backward(const T* gy, const T* x, const T* weight, const T* mean, const T* rstd,
                         T* gx, T* gw, T* gb, int64_t m, int64_t n, bool center) {
  const NormRowFns<T>& k = fns<T>();
  const bool params = gw != nullptr || gb != nullptr;
  const int64_t chunks =
      params ? std::clamp<int64_t>(m * n / kChunkWork, 1, std::min(kMaxChunks, std::max<int64_t>(m, 1)))
             : std::max<int64_t>(m, 1);
  std::vector<double> ws;
  if (params) ws.assign(static_cast<size_t>(chunks * n * 2), 0.0);
  double* ws_w = ws.data();
  double* ws_b = params ? ws.data() + chunks * n : nullptr;
#pragma omp parallel for num_threads(num_threads()) schedule(static) if (m * n > kParallelWork)
  for (int64_t p = 0; p < chunks; ++p) {
    const int64_t r0 = m * p / chunks, r1 = m * (p + 1) / chunks;
    double* aw = gw != nullptr ? ws_w + p * n : nullptr;
    double* ab = gb != nullptr ? ws_b + p * n : nullptr;
    for (int64_t r = r0; r < r1; ++r) {
      const T mu = center ? mean[r] : T(0);
      k.backward(gy + r * n, x + r * n, weight, center, mu, rstd[r], gx ? gx + r * n : nullptr,
                 aw, ab, n);
    }
  }
  if (!params) return;
#pragma omp parallel for num_threads(num_threads()) schedule(static) if (chunks * n > kParallelWork)
  for (int64_t j = 0; j < n; ++j) {
    double sw = 0.0, sb = 0.0;
    for (int64_t p = 0; p < chunks; ++p) {
      sw += ws_w[p * n + j];
      sb += ws_b[p * n + j];
    }
    if (gw != nullptr) gw[j] = static_cast<T>(sw);
    if (gb != nullptr) gb[j] = static_cast<T>(sb);
  }
}

template <typename T>
void group_norm_forward(const T* x, const T* weight, const T* bias, T* y, T* mean, T* rstd,
                        int64_t n, int64_t c, int64_t s, int64_t groups, double eps) {
  const NormRowFns<T>& k = fns<T>();
  const int64_t d = c / groups;  // channels per group
  const int64_t blocks = n * groups;
#pragma omp parallel for num_threads(num_threads()) schedule(static) if (n * c * s > kParallelWork)
  for (int64_t bg = 0; bg < blocks; ++bg) {
    const int64_t off = bg * d * s;  // (sample, group) blocks are contiguous
    double mu = 0.0, rs = 0.0;
    k.moments(x + off, d * s, true, eps, &mu, &rs);
    mean[bg] = static_cast<T>(mu);
    rstd[bg] = static_cast<T>(rs);
    const int64_t c0 = (bg % groups) * d;
    for (int64_t j = 0; j < d; ++j) {
      const double w = weight ? static_cast<double>(weight[c0 + j]) : 1.0;
      const double b = bias ? static_cast<double>(bias[c0 + j]) : 0.0;
      const double a = rs * w;
      k.scale_shift(x + off + j * s, static_cast<T>(a), static_cast<T>(b - mu * a),
                    y + off + j * s, s);
    }
  }
}

template <typename T>
void group_norm_backward(const T* gy, const T* x, const T* weight, const T* mean, const T* rstd,
                         T* gx, T* gw, T* gb, int64_t n, int64_t c, int64_t s, int64_t groups) {
  const NormRowFns<T>& k = fns<T>();
  const int64_t d = c / groups;
  const int64_t nc = n * c;
  const bool par = nc * s > kParallelWork;
  // ds[n, c] = sum_s gy * x, db[n, c] = sum_s gy.
  std::vector<double> ds(static_cast<size_t>(nc)), db(static_cast<size_t>(nc));
#pragma omp parallel for num_threads(num_threads()) schedule(static) if (par)
  for (int64_t i = 0; i < nc; ++i) k.sums(gy + i * s, x + i * s, s, &db[i], &ds[i]);
  if (gx != nullptr) {
    const double m = static_cast<double>(d * s);
#pragma omp parallel for num_threads(num_threads()) schedule(static) if (par)
    for (int64_t bg = 0; bg < n * groups; ++bg) {
      const int64_t c0 = (bg % groups) * d, i0 = (bg / groups) * c + c0;
      double ds_g = 0.0, db_g = 0.0;
      for (int64_t j = 0; j < d; ++j) {
        const double w = weight ? static_cast<double>(weight[c0 + j]) : 1.0;
        ds_g += ds[i0 + j] * w;
        db_g += db[i0 + j] * w;
      }
      const double mu = mean[bg], rs = rstd[bg];
      const double c2 = (db_g * mu - ds_g) * rs * rs * rs / m;
      const double c3 = -c2 * mu - db_g * rs / m;
      for (int64_t j = 0; j < d; ++j) {
        const double w = weight ? static_cast<double>(weight[c0 + j]) : 1.0;
        const int64_t off = (i0 + j) * s;
        k.combine(gy + off, x + off, static_cast<T>(rs * w), static_cast<T>(c2),
                  static_cast<T>(c3), gx + off, s);
      }
    }
  }
  if (gw == nullptr && gb == nullptr) return;
#pragma omp parallel for num_threads(num_threads()) schedule(static) if (nc > kParallelWork)
  for (int64_t ch = 0; ch < c; ++ch) {
    const int64_t g = ch / d;
    double sw = 0.0, sb = 0.0;
    for (int64_t i = 0; i < n; ++i) {
      const int64_t bg = i * groups + g;
      const double v_ds = ds[i * c + ch], v_db = db[i * c + ch];
      sw += (v_ds - v_db * static_cast<double>(mean[bg])) * static_cast<double>(rstd[bg]);
      sb += v_db;
    }
    if (gw != nullptr) gw[ch] = static_cast<T>(sw);
    if (gb != nullptr) gb[ch] = static_cast<T>(sb);
  }
}

#define DLX_NORM(T)                                                                             \
  template void layer_norm_forward<T>(const T*, const T*, const T*, T*, T*, T*, int64_t,         \
                                      int64_t, double, bool);                                    \
  template void layer_norm_backward<T>(const T*, const T*, const T*, const T*, const T*, T*, T*, \
                                       T*, int64_t, int64_t, bool);                              \
  template void group_norm_forward<T>(const T*, const T*, const T*, T*, T*, T*, int64_t,         \
                                      int64_t, int64_t, int64_t, double);                        \
  template void group_norm_backward<T>(const T*, const T*, const T*, const T*, const T*, T*, T*, \
                                       T*, int64_t, int64_t, int64_t, int64_t);
DLX_INSTANTIATE(DLX_NORM)

}  // namespace dlx
