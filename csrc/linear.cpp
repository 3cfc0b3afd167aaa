#include "linear.h"

#include <algorithm>
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

#define DLX_LINEAR(T)                                                                           \
  template void linear_forward<T>(const T*, const T*, const T*, T*, int64_t, int64_t, int64_t); \
  template void linear_backward<T>(const T*, const T*, const T*, T*, T*, T*, int64_t, int64_t,  \
                                   int64_t);                                                    \
  template void sum_rows<T>(const T*, T*, int64_t, int64_t);
DLX_INSTANTIATE(DLX_LINEAR)

}  // namespace dlx
