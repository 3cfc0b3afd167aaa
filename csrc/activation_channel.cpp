// Activations that see the channel axis: PReLU (a weight per channel) and maxout (a max over
// groups of channels). Work is split into blocks of one (outer, channel) row and at most
// kBlock inner elements, so both many small rows and a few huge ones parallelise.
#include <omp.h>

#include <algorithm>
#include <vector>

#include "activation.h"
#include "common.h"
#include "reduce.h"
#include "threads.h"

namespace dlx {
namespace {

constexpr int64_t kParallelMin = 1 << 15;
constexpr int64_t kBlock = 4096;

int64_t blocks_per_row(int64_t inner) { return (inner + kBlock - 1) / kBlock; }

// Calls f(row, begin, end) for every block of `rows` rows of `inner` elements.
template <typename F>
void for_blocks(int64_t rows, int64_t inner, int64_t work, F f) {
  const int64_t per_row = blocks_per_row(inner);
  const int64_t tasks = rows * per_row;
#pragma omp parallel for num_threads(num_threads()) schedule(static) if (work > kParallelMin)
  for (int64_t t = 0; t < tasks; ++t) {
    const int64_t r = t / per_row, begin = (t % per_row) * kBlock;
    f(r, begin, std::min(begin + kBlock, inner));
  }
}

}  // namespace

template <typename T>
void prelu_forward(const T* x, const T* weight, T* y, int64_t outer, int64_t channels,
                   int64_t inner, bool shared) {
  for_blocks(outer * channels, inner, outer * channels * inner,
             [&](int64_t r, int64_t b, int64_t e) {
               const T w = weight[shared ? 0 : r % channels];
               const T* xr = x + r * inner;
               T* yr = y + r * inner;
               for (int64_t i = b; i < e; ++i) yr[i] = xr[i] > T(0) ? xr[i] : w * xr[i];
             });
}

template <typename T>
void prelu_backward(const T* gy, const T* x, const T* weight, T* gx, T* gweight, int64_t outer,
                    int64_t channels, int64_t inner, bool shared) {
  const int64_t wlen = shared ? 1 : channels;
  const int64_t rows = outer * channels, per_row = blocks_per_row(inner);
  const int64_t tasks = rows * per_row;
  const int nt = rows * inner > kParallelMin ? num_threads() : 1;
  // One row of double partial sums per thread, added in thread order at the end, so the
  // result depends only on the thread count.
  std::vector<double> partial(static_cast<size_t>(nt) * static_cast<size_t>(wlen), 0.0);
#pragma omp parallel num_threads(nt) if (nt > 1)
  {
    double* acc = partial.data() + static_cast<size_t>(omp_get_thread_num()) * wlen;
#pragma omp for schedule(static)
    for (int64_t t = 0; t < tasks; ++t) {
      const int64_t r = t / per_row, b = (t % per_row) * kBlock;
      const int64_t e = std::min(b + kBlock, inner);
      const int64_t wc = shared ? 0 : r % channels;
      const T w = weight[wc];
      const T* xr = x + r * inner;
      const T* gyr = gy + r * inner;
      T* gxr = gx + r * inner;
      for (int64_t i = b; i < e; ++i) gxr[i] = xr[i] > T(0) ? gyr[i] : w * gyr[i];
      acc[wc] += lane_sum_of(e - b, [&](int64_t k) {
        const int64_t i = b + k;
        // Select, then multiply: see reduce.h for why not `x > 0 ? 0.0 : x * g`.
        return static_cast<double>(xr[i] > T(0) ? T(0) : xr[i]) * static_cast<double>(gyr[i]);
      });
    }
  }
  for (int64_t c = 0; c < wlen; ++c) {
    double s = 0.0;
    for (int th = 0; th < nt; ++th) s += partial[static_cast<size_t>(th) * wlen + c];
    gweight[c] = static_cast<T>(s);
  }
}

template <typename T>
void maxout_forward(const T* x, T* y, int64_t* idx, int64_t outer, int64_t units, int64_t pieces,
                    int64_t inner) {
  for_blocks(outer * units, inner, outer * units * pieces * inner,
             [&](int64_t r, int64_t b, int64_t e) {
               // Row r = (o, u) of the output reads input channels u*pieces .. of sample o, which
               // start at row r * pieces of the input.
               const T* xr = x + r * pieces * inner;
               T* yr = y + r * inner;
               int64_t* ir = idx + r * inner;
               for (int64_t i = b; i < e; ++i) {
                 yr[i] = xr[i];
                 ir[i] = 0;
               }
               for (int64_t k = 1; k < pieces; ++k) {
                 const T* xk = xr + k * inner;
                 for (int64_t i = b; i < e; ++i) {
                   const T v = xk[i], best = yr[i];
                   // Strictly greater keeps the first maximum; a NaN wins and then stays.
                   const bool take = v > best || (v != v && best == best);
                   yr[i] = take ? v : best;
                   ir[i] = take ? k : ir[i];
                 }
               }
             });
}

template <typename T>
void maxout_backward(const T* gy, const int64_t* idx, T* gx, int64_t outer, int64_t units,
                     int64_t pieces, int64_t inner) {
  for_blocks(outer * units, inner, outer * units * pieces * inner,
             [&](int64_t r, int64_t b, int64_t e) {
               const T* gyr = gy + r * inner;
               const int64_t* ir = idx + r * inner;
               for (int64_t k = 0; k < pieces; ++k) {
                 T* gxk = gx + (r * pieces + k) * inner;
                 for (int64_t i = b; i < e; ++i) gxk[i] = ir[i] == k ? gyr[i] : T(0);
               }
             });
}

#define DLX_ACTIVATION_CHANNEL(T)                                                                  \
  template void prelu_forward<T>(const T*, const T*, T*, int64_t, int64_t, int64_t, bool);         \
  template void prelu_backward<T>(const T*, const T*, const T*, T*, T*, int64_t, int64_t, int64_t, \
                                  bool);                                                           \
  template void maxout_forward<T>(const T*, T*, int64_t*, int64_t, int64_t, int64_t, int64_t);     \
  template void maxout_backward<T>(const T*, const int64_t*, T*, int64_t, int64_t, int64_t,        \
                                   int64_t);
DLX_INSTANTIATE(DLX_ACTIVATION_CHANNEL)

}  // namespace dlx
