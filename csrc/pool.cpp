#include "pool.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>
#include <vector>

#include "common.h"
#include "pool_kernels.h"
#include "threads.h"

namespace dlx {

KernelFamily<PoolKernels> pool_kernels{"max_pool_2x2_row"};

namespace {

// Below this many window taps a call runs on one thread: wake-up would cost more.
constexpr int64_t kParallelWork = 32768;

// Tap range of every output position along one axis: taps start + j * dilation for
// start <= tap < end, already clipped to [0, in). An empty window has start >= end.
struct Span {
  std::vector<int64_t> start, end;
};

Span max_spans(int64_t out, int64_t in, int64_t k, int64_t stride, int64_t pad, int64_t dilation) {
  Span s{std::vector<int64_t>(out), std::vector<int64_t>(out)};
  for (int64_t o = 0; o < out; ++o) {
    int64_t first = o * stride - pad;
    const int64_t last = std::min(first + (k - 1) * dilation + 1, in);
    if (first < 0) first += (-first + dilation - 1) / dilation * dilation;  // first tap >= 0
    s.start[o] = first;
    s.end[o] = last;
  }
  return s;
}

// Average-pool window along one axis, PyTorch's rule: the window is clipped to the padded
// input for the count_include_pad divisor, then to the input itself for the sum.
struct AvgSpan {
  std::vector<int64_t> start, end, padded;
};

AvgSpan avg_spans(int64_t out, int64_t in, int64_t k, int64_t stride, int64_t pad) {
  AvgSpan s{std::vector<int64_t>(out), std::vector<int64_t>(out), std::vector<int64_t>(out)};
  for (int64_t o = 0; o < out; ++o) {
    const int64_t first = o * stride - pad;
    const int64_t last = std::min(first + k, in + pad);
    s.padded[o] = last - first;
    s.start[o] = std::max<int64_t>(first, 0);
    s.end[o] = std::min(last, in);
  }
  return s;
}

// The common 2x2 window, stride 2, no padding or dilation, every window inside the input:
// four loads per output and no span tables. Same tap order and NaN/tie rules as the
// general loop below (first tap, then taps that are greater or NaN).
template <typename T>
bool max_pool2d_2x2(const T* x, T* y, int64_t* indices, const Pool2dParams& p) {
  if (p.kernel_h != 2 || p.kernel_w != 2 || p.stride_h != 2 || p.stride_w != 2 || p.pad_h != 0 ||
      p.pad_w != 0 || p.dilation_h != 1 || p.dilation_w != 1 || 2 * p.h_out > p.h_in ||
      2 * p.w_out > p.w_in)
    return false;
  const int64_t plane_in = p.h_in * p.w_in, plane_out = p.h_out * p.w_out;
  const int64_t w_in = p.w_in, w_out = p.w_out, h_out = p.h_out;
  const int64_t work = p.planes * plane_out * 4;
  const PoolKernels* rows = std::is_same_v<T, float> ? pool_kernels.get() : nullptr;
#pragma omp parallel for num_threads(num_threads()) schedule(static) if (work > kParallelWork)
  for (int64_t plane = 0; plane < p.planes; ++plane) {
    const T* xp = x + plane * plane_in;
    for (int64_t oh = 0; oh < h_out; ++oh) {
      const int64_t base = 2 * oh * w_in;
      const T* r0 = xp + base;
      const T* r1 = r0 + w_in;
      T* yr = y + plane * plane_out + oh * w_out;
      int64_t* ir = indices + plane * plane_out + oh * w_out;
      int64_t ow = 0;
      if constexpr (std::is_same_v<T, float>) {
        if (rows != nullptr) ow = rows->max_pool_2x2_row(r0, r1, yr, ir, base, w_in, w_out);
      }
      for (; ow < w_out; ++ow) {
        const int64_t iw = 2 * ow;
        T best = r0[iw];
        int64_t at = base + iw;
        const T taps[3] = {r0[iw + 1], r1[iw], r1[iw + 1]};
        const int64_t offs[3] = {base + iw + 1, base + w_in + iw, base + w_in + iw + 1};
        for (int t = 0; t < 3; ++t) {
          const bool take = (taps[t] > best) | (taps[t] != taps[t]);
          best = take ? taps[t] : best;
          at = take ? offs[t] : at;
        }
        yr[ow] = best;
        ir[ow] = at;
      }
    }
  }
  return true;
}

}  // namespace

template <typename T>
void max_pool2d_forward(const T* x, T* y, int64_t* indices, const Pool2dParams& p) {
  if (max_pool2d_2x2(x, y, indices, p)) return;
  const Span sh = max_spans(p.h_out, p.h_in, p.kernel_h, p.stride_h, p.pad_h, p.dilation_h);
  const Span sw = max_spans(p.w_out, p.w_in, p.kernel_w, p.stride_w, p.pad_w, p.dilation_w);
  // Kernel column j reads iw = ow * stride_w + col[j]; it lies in the input for
  // ow in [ow_lo[j], ow_hi[j]).
  std::vector<int64_t> col(p.kernel_w), ow_lo(p.kernel_w), ow_hi(p.kernel_w);
  for (int64_t j = 0; j < p.kernel_w; ++j) {
    col[j] = j * p.dilation_w - p.pad_w;
    int64_t lo = 0, hi = p.w_out;
    while (lo < hi && lo * p.stride_w + col[j] < 0) ++lo;
    while (hi > lo && (hi - 1) * p.stride_w + col[j] >= p.w_in) --hi;
    ow_lo[j] = lo;
    ow_hi[j] = hi;
  }
  const int64_t plane_in = p.h_in * p.w_in, plane_out = p.h_out * p.w_out;
  const int64_t work = p.planes * plane_out * p.kernel_h * p.kernel_w;
  const int64_t w_in = p.w_in, w_out = p.w_out, stride_w = p.stride_w;
#pragma omp parallel for num_threads(num_threads()) schedule(static) if (work > kParallelWork)
  for (int64_t plane = 0; plane < p.planes; ++plane) {
    const T* xp = x + plane * plane_in;
    for (int64_t oh = 0; oh < p.h_out; ++oh) {
      const int64_t h0 = sh.start[oh], h1 = sh.end[oh];
      T* yr = y + plane * plane_out + oh * w_out;
      int64_t* ir = indices + plane * plane_out + oh * w_out;
      // Start from -inf at the first tap inside the input (PyTorch's choice when every
      // tap is -inf); a window with no tap inside keeps index -1.
      for (int64_t ow = 0; ow < w_out; ++ow) {
        const bool any = h0 < h1 && sw.start[ow] < sw.end[ow];
        yr[ow] = -std::numeric_limits<T>::infinity();
        ir[ow] = any ? h0 * w_in + sw.start[ow] : -1;
      }
      // Taps in row-major window order, each one across the whole output row: every
      // window sees its taps in the same order as a per-window loop, and the inner loop
      // is a branch-free select over ow that the compiler vectorises.
      for (int64_t ih = h0; ih < h1; ih += p.dilation_h) {
        const T* row = xp + ih * w_in;
        for (int64_t j = 0; j < p.kernel_w; ++j) {
          const int64_t cj = col[j], base = ih * w_in + cj, lo = ow_lo[j], hi = ow_hi[j];
          for (int64_t ow = lo; ow < hi; ++ow) {
            const T v = row[ow * stride_w + cj];
            const T cur = yr[ow];
            const bool take = (v > cur) | (v != v);  // NaN wins; ties keep the earlier tap
            yr[ow] = take ? v : cur;
            ir[ow] = take ? base + ow * stride_w : ir[ow];
          }
        }
      }
    }
  }
}

template <typename T>
int64_t max_pool2d_backward(const T* gy, const int64_t* indices, T* gx, const Pool2dParams& p) {
  const int64_t plane_in = p.h_in * p.w_in, plane_out = p.h_out * p.w_out;
  const int64_t work = p.planes * (plane_in + plane_out);
  int64_t bad = 0;
#pragma omp parallel for num_threads(num_threads()) schedule(static) if (work > kParallelWork) \
    reduction(+ : bad)
  for (int64_t plane = 0; plane < p.planes; ++plane) {
    const T* gp = gy + plane * plane_out;
    const int64_t* ip = indices + plane * plane_out;
    T* gxp = gx + plane * plane_in;
    std::fill_n(gxp, plane_in, T(0));
    for (int64_t o = 0; o < plane_out; ++o) {
      const int64_t i = ip[o];
      // One unsigned compare rejects negatives and overflows alike.
      if (static_cast<uint64_t>(i) < static_cast<uint64_t>(plane_in)) {
        gxp[i] += gp[o];
      } else if (i != -1) {
        ++bad;
      }
    }
  }
  return bad;
}

template <typename T>
void avg_pool2d_forward(const T* x, T* y, const Pool2dParams& p) {
  const AvgSpan sh = avg_spans(p.h_out, p.h_in, p.kernel_h, p.stride_h, p.pad_h);
  const AvgSpan sw = avg_spans(p.w_out, p.w_in, p.kernel_w, p.stride_w, p.pad_w);
  const int64_t plane_in = p.h_in * p.w_in, plane_out = p.h_out * p.w_out;
  const int64_t work = p.planes * plane_out * p.kernel_h * p.kernel_w;
  const int64_t w_in = p.w_in;
#pragma omp parallel for num_threads(num_threads()) schedule(static) if (work > kParallelWork)
  for (int64_t plane = 0; plane < p.planes; ++plane) {
    const T* xp = x + plane * plane_in;
    T* yp = y + plane * plane_out;
    for (int64_t oh = 0; oh < p.h_out; ++oh) {
      const int64_t h0 = sh.start[oh], h1 = sh.end[oh];
      for (int64_t ow = 0; ow < p.w_out; ++ow) {
        const int64_t w0 = sw.start[ow], w1 = sw.end[ow];
        const int64_t count =
            p.count_include_pad ? sh.padded[oh] * sw.padded[ow] : (h1 - h0) * (w1 - w0);
        double sum = 0.0;
        for (int64_t ih = h0; ih < h1; ++ih) {
          const T* row = xp + ih * w_in;
          for (int64_t iw = w0; iw < w1; ++iw) sum += row[iw];
        }
        // An empty window (unreachable with PyTorch's padding and ceil_mode rules) gives 0.
        yp[oh * p.w_out + ow] =
            (h0 < h1 && w0 < w1) ? static_cast<T>(sum / static_cast<double>(count)) : T(0);
      }
    }
  }
}

template <typename T>
void avg_pool2d_backward(const T* gy, T* gx, const Pool2dParams& p) {
  const AvgSpan sh = avg_spans(p.h_out, p.h_in, p.kernel_h, p.stride_h, p.pad_h);
  const AvgSpan sw = avg_spans(p.w_out, p.w_in, p.kernel_w, p.stride_w, p.pad_w);
  const int64_t plane_in = p.h_in * p.w_in, plane_out = p.h_out * p.w_out;
  const int64_t work = p.planes * (plane_in + plane_out * p.kernel_h * p.kernel_w);
  const int64_t w_in = p.w_in;
#pragma omp parallel for num_threads(num_threads()) schedule(static) if (work > kParallelWork)
  for (int64_t plane = 0; plane < p.planes; ++plane) {
    const T* gp = gy + plane * plane_out;
    T* gxp = gx + plane * plane_in;
    std::fill_n(gxp, plane_in, T(0));
    for (int64_t oh = 0; oh < p.h_out; ++oh) {
      const int64_t h0 = sh.start[oh], h1 = sh.end[oh];
      for (int64_t ow = 0; ow < p.w_out; ++ow) {
        const int64_t w0 = sw.start[ow], w1 = sw.end[ow];
        if (h0 >= h1 || w0 >= w1) continue;
        const int64_t count =
            p.count_include_pad ? sh.padded[oh] * sw.padded[ow] : (h1 - h0) * (w1 - w0);
        const T g =
            static_cast<T>(static_cast<double>(gp[oh * p.w_out + ow]) / static_cast<double>(count));
        for (int64_t ih = h0; ih < h1; ++ih) {
          T* row = gxp + ih * w_in;
          for (int64_t iw = w0; iw < w1; ++iw) row[iw] += g;
        }
      }
    }
  }
}

#define DLX_POOL(T)                                                                           \
  template void max_pool2d_forward<T>(const T*, T*, int64_t*, const Pool2dParams&);           \
  template int64_t max_pool2d_backward<T>(const T*, const int64_t*, T*, const Pool2dParams&); \
  template void avg_pool2d_forward<T>(const T*, T*, const Pool2dParams&);                     \
  template void avg_pool2d_backward<T>(const T*, T*, const Pool2dParams&);
DLX_INSTANTIATE(DLX_POOL)

}  // namespace dlx
