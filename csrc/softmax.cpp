// Softmax / log-softmax kernels. Two shapes of work:
// - inner == 1 (the last axis): each row is contiguous; rows are split across threads.
// - inner > 1: a task is one outer index and a block of up to kCols columns; it walks the
//   axis with unit-stride inner loops over the block, keeping per-column max and sums.
#include "softmax.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "common.h"
#include "reduce.h"
#include "threads.h"
#include "vmath.h"

namespace dlx {
namespace {

constexpr int64_t kParallelMin = 1 << 15;
constexpr int64_t kCols = 256;

// Loops are kept plain (one job each) so GCC vectorises them; sums use reduce.h lanes.
template <typename T, bool Log>
void forward_row(const T* x, T* y, int64_t len) {
  const T m = lane_max(x, len);
  for (int64_t l = 0; l < len; ++l) y[l] = vexp(x[l] - m);
  const double s = lane_sum(y, len);
  if constexpr (Log) {
    const T lse = static_cast<T>(std::log(s));
    for (int64_t l = 0; l < len; ++l) y[l] = (x[l] - m) - lse;
  } else {
    const T inv = static_cast<T>(1.0 / s);
    for (int64_t l = 0; l < len; ++l) y[l] *= inv;
  }
}

template <typename T, bool Log>
void backward_row(const T* gy, const T* y, T* gx, int64_t len) {
  if constexpr (Log) {
    const T s = static_cast<T>(lane_sum(gy, len));
    for (int64_t l = 0; l < len; ++l) gx[l] = gy[l] - vexp(y[l]) * s;
  } else {
    const T s = static_cast<T>(lane_sum_of(
        len, [&](int64_t l) { return static_cast<double>(gy[l]) * static_cast<double>(y[l]); }));
    for (int64_t l = 0; l < len; ++l) gx[l] = y[l] * (gy[l] - s);
  }
}

// Columns [b, b + w) of outer slice o: same maths as forward_row, one column per lane.
// For log-softmax y holds exp(x - m) until the last pass overwrites it.
template <typename T, bool Log>
void forward_cols(const T* x, T* y, int64_t len, int64_t inner, int64_t w) {
  T m[kCols];
  double s[kCols];
  std::fill_n(m, w, -std::numeric_limits<T>::infinity());
  std::fill_n(s, w, 0.0);
  for (int64_t l = 0; l < len; ++l) {
    const T* xl = x + l * inner;
    for (int64_t i = 0; i < w; ++i) m[i] = m[i] < xl[i] ? xl[i] : m[i];
  }
  for (int64_t l = 0; l < len; ++l) {
    const T* xl = x + l * inner;
    T* yl = y + l * inner;
    for (int64_t i = 0; i < w; ++i) yl[i] = vexp(xl[i] - m[i]);
    for (int64_t i = 0; i < w; ++i) s[i] += static_cast<double>(yl[i]);
  }
  T k[kCols];  // log of the sum (log-softmax) or its inverse (softmax)
  for (int64_t i = 0; i < w; ++i) k[i] = static_cast<T>(Log ? std::log(s[i]) : 1.0 / s[i]);
  for (int64_t l = 0; l < len; ++l) {
    const T* xl = x + l * inner;
    T* yl = y + l * inner;
    if constexpr (Log) {
      for (int64_t i = 0; i < w; ++i) yl[i] = (xl[i] - m[i]) - k[i];
    } else {
      for (int64_t i = 0; i < w; ++i) yl[i] *= k[i];
    }
  }
}

template <typename T, bool Log>
void backward_cols(const T* gy, const T* y, T* gx, int64_t len, int64_t inner, int64_t w) {
  double s[kCols];
  std::fill_n(s, w, 0.0);
  for (int64_t l = 0; l < len; ++l) {
    const T* gl = gy + l * inner;
    const T* yl = y + l * inner;
    if constexpr (Log) {
      for (int64_t i = 0; i < w; ++i) s[i] += static_cast<double>(gl[i]);
    } else {
      for (int64_t i = 0; i < w; ++i) {
        s[i] += static_cast<double>(gl[i]) * static_cast<double>(yl[i]);
      }
    }
  }
  T st[kCols];
  for (int64_t i = 0; i < w; ++i) st[i] = static_cast<T>(s[i]);
  for (int64_t l = 0; l < len; ++l) {
    const T* gl = gy + l * inner;
    const T* yl = y + l * inner;
    T* ol = gx + l * inner;
    if constexpr (Log) {
      for (int64_t i = 0; i < w; ++i) ol[i] = gl[i] - vexp(yl[i]) * st[i];
    } else {
      for (int64_t i = 0; i < w; ++i) ol[i] = yl[i] * (gl[i] - st[i]);
    }
  }
}

// Runs a row or column-block kernel over the whole (outer, len, inner) array.
template <typename RowFn, typename ColFn>
void run(int64_t outer, int64_t len, int64_t inner, RowFn row, ColFn cols) {
  const int64_t total = outer * len * inner;
  if (inner == 1) {
#pragma omp parallel for num_threads(num_threads()) schedule(static) if (total > kParallelMin)
    for (int64_t o = 0; o < outer; ++o) row(o * len);
    return;
  }
  const int64_t per = (inner + kCols - 1) / kCols, tasks = outer * per;
#pragma omp parallel for num_threads(num_threads()) schedule(static) if (total > kParallelMin)
  for (int64_t t = 0; t < tasks; ++t) {
    const int64_t o = t / per, b = (t % per) * kCols;
    cols(o * len * inner + b, std::min(kCols, inner - b));
  }
}

template <typename T, bool Log>
void forward(const T* x, T* y, int64_t outer, int64_t len, int64_t inner) {
  run(
      outer, len, inner, [&](int64_t off) { forward_row<T, Log>(x + off, y + off, len); },
      [&](int64_t off, int64_t w) { forward_cols<T, Log>(x + off, y + off, len, inner, w); });
}

template <typename T, bool Log>
void backward(const T* gy, const T* y, T* gx, int64_t outer, int64_t len, int64_t inner) {
  run(
      outer, len, inner,
      [&](int64_t off) { backward_row<T, Log>(gy + off, y + off, gx + off, len); },
      [&](int64_t off, int64_t w) {
        backward_cols<T, Log>(gy + off, y + off, gx + off, len, inner, w);
      });
}

}  // namespace

template <typename T>
void softmax_forward(const T* x, T* y, int64_t outer, int64_t len, int64_t inner) {
  forward<T, false>(x, y, outer, len, inner);
}

template <typename T>
void log_softmax_forward(const T* x, T* y, int64_t outer, int64_t len, int64_t inner) {
  forward<T, true>(x, y, outer, len, inner);
}

template <typename T>
void softmax_backward(const T* gy, const T* y, T* gx, int64_t outer, int64_t len, int64_t inner) {
  backward<T, false>(gy, y, gx, outer, len, inner);
}

template <typename T>
void log_softmax_backward(const T* gy, const T* y, T* gx, int64_t outer, int64_t len,
                          int64_t inner) {
  backward<T, true>(gy, y, gx, outer, len, inner);
}

template <typename T>
void log_softmax_row(const T* x, T* y, int64_t len) {
  forward_row<T, true>(x, y, len);
}

#define DLX_SOFTMAX(T)                                                                      \
  template void softmax_forward<T>(const T*, T*, int64_t, int64_t, int64_t);                \
  template void log_softmax_forward<T>(const T*, T*, int64_t, int64_t, int64_t);            \
  template void softmax_backward<T>(const T*, const T*, T*, int64_t, int64_t, int64_t);     \
  template void log_softmax_backward<T>(const T*, const T*, T*, int64_t, int64_t, int64_t); \
  template void log_softmax_row<T>(const T*, T*, int64_t);
DLX_INSTANTIATE(DLX_SOFTMAX)

}  // namespace dlx
