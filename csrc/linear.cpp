#include "linear.h"

#include <omp.h>

#include <algorithm>
#include <type_traits>
#include <vector>

#include "blas.h"
#include "threads.h"

namespace dlx {

template <typename T>
void linear_forward(const T* x, const T* weight, const T* bias, T* y, int64_t n, int64_t in,
                    int64_t out) {
  if (bias != nullptr) {
    for (int64_t i = 0; i < n; ++i) std::copy(bias, bias + out, y + i * out);
  }
  gemm(false, true, n, out, in, T(1), x, in, weight, in, bias != nullptr ? T(1) : T(0), y, out);
}

template <typename T>
void sum_rows(const T* a, T* out, int64_t rows, int64_t cols) {
  std::vector<double> acc(static_cast<size_t>(cols), 0.0);
  for (int64_t i = 0; i < rows; ++i) {
    const T* row = a + i * cols;
    for (int64_t j = 0; j < cols; ++j) acc[j] += row[j];
  }
  for (int64_t j = 0; j < cols; ++j) out[j] = static_cast<T>(acc[j]);
}

template <typename T>
void linear_backward(const T* gy, const T* x, const T* weight, T* gx, T* gw, T* gb, int64_t n,
                     int64_t in, int64_t out) {
  if (gx != nullptr) gemm(false, false, n, in, out, T(1), gy, out, weight, in, T(0), gx, in);
  if (gw != nullptr) gemm(true, false, out, in, n, T(1), gy, out, x, in, T(0), gw, in);
  if (gb != nullptr) sum_rows(gy, gb, n, out);
}

template <typename T>
void dense_chain_forward(const T* x, const std::vector<const T*>& weights,
                         const std::vector<const T*>& biases, const std::vector<bool>& relu,
                         const std::vector<int64_t>& widths, int64_t n, T* y) {
  const size_t layers = weights.size();
  int64_t widest = 0;
  for (size_t i = 1; i + 1 < widths.size(); ++i) widest = std::max(widest, widths[i]);
  std::vector<T> buf(static_cast<size_t>(2 * n * widest));
  auto out_of = [&](size_t i) { return i + 1 == layers ? y : buf.data() + (i % 2) * n * widest; };
  auto relu_rows = [](T* v, int64_t count) {
    for (int64_t k = 0; k < count; ++k) v[k] = v[k] < T(0) ? T(0) : v[k];
  };
  const int nt = num_threads();
  bool split = false;
  if constexpr (std::is_same_v<T, float>) split = n == 1 && nt > 1 && own_sgemm_enabled();
  if (!split) {
    const T* in = x;
    for (size_t i = 0; i < layers; ++i) {
      T* out = out_of(i);
      linear_forward(in, weights[i], biases[i], out, n, widths[i], widths[i + 1]);
      if (relu[i]) relu_rows(out, n * widths[i + 1]);
      in = out;
    }
    return;
  }
  if constexpr (std::is_same_v<T, float>) {
#pragma omp parallel num_threads(nt)
    {
      const int64_t tid = omp_get_thread_num(), team = omp_get_num_threads();
      const float* in = x;
      for (size_t i = 0; i < layers; ++i) {
        float* out = out_of(i);
        const int64_t rows = widths[i + 1], cols = widths[i];
        const int64_t r0 = rows * tid / team, r1 = rows * (tid + 1) / team;
        if (r1 > r0) {
          const float* b = biases[i];
          if (b != nullptr) std::copy(b + r0, b + r1, out + r0);
          own_sgemv(r1 - r0, cols, 1.0f, weights[i] + r0 * cols, cols, in,
                    b != nullptr ? 1.0f : 0.0f, out + r0);
          if (relu[i]) relu_rows(out + r0, r1 - r0);
        }
#pragma omp barrier
        in = out;
      }
    }
  }
}

#define DLX_LINEAR(T)                                                                           \
  template void linear_forward<T>(const T*, const T*, const T*, T*, int64_t, int64_t, int64_t); \
  template void dense_chain_forward<T>(const T*, const std::vector<const T*>&,                  \
                                       const std::vector<const T*>&, const std::vector<bool>&,  \
                                       const std::vector<int64_t>&, int64_t, T*);               \
  template void linear_backward<T>(const T*, const T*, const T*, T*, T*, T*, int64_t, int64_t,  \
                                   int64_t);                                                    \
  template void sum_rows<T>(const T*, T*, int64_t, int64_t);
DLX_INSTANTIATE(DLX_LINEAR)

}  // namespace dlx
