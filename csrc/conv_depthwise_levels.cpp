// Depthwise plane kernels (conv_depthwise.h), compiled once per ISA level: the loops over an
// output row are plain C++ that the compiler vectorises for the level (contiguous at stride
// 1). Each tap (i, j) touches the output columns [lo, hi) whose input column
// ow * stride_w + j * dil_w - pad_w lies inside the plane, so no inner loop tests bounds.
#include <cstdint>

#include "conv_depthwise.h"

namespace dlx::DLX_ISA_NS {
namespace {

// Output columns [lo, hi) whose input column ow * s + off lies in [0, w).
inline void column_range(int64_t off, int64_t s, int64_t w, int64_t w_out, int64_t& lo,
                         int64_t& hi) {
  lo = off >= 0 ? 0 : (-off + s - 1) / s;
  hi = w - 1 - off < 0 ? 0 : (w - 1 - off) / s + 1;
  if (hi > w_out) hi = w_out;
  if (lo > hi) lo = hi;
}

template <typename T>
void forward(const T* __restrict x, const T* __restrict k, T bias, T* __restrict y,
             const DepthwisePlane& p) {
  const Window2d& win = p.win;
  const int64_t sw = win.stride_w;
  for (int64_t oh = 0; oh < p.h_out; ++oh) {
    T* __restrict yr = y + oh * p.w_out;
    for (int64_t ow = 0; ow < p.w_out; ++ow) yr[ow] = bias;
    for (int64_t i = 0; i < win.kh; ++i) {
      const int64_t ih = oh * win.stride_h + i * win.dil_h - win.pad_h;
      if (ih < 0 || ih >= p.h) continue;
      const T* __restrict xr = x + ih * p.w;
      for (int64_t j = 0; j < win.kw; ++j) {
        const int64_t off = j * win.dil_w - win.pad_w;
        int64_t lo, hi;
        column_range(off, sw, p.w, p.w_out, lo, hi);
        const T kv = k[i * win.kw + j];
        if (sw == 1) {
          const T* __restrict xs = xr + off;
          for (int64_t ow = lo; ow < hi; ++ow) yr[ow] += kv * xs[ow];
        } else {
          for (int64_t ow = lo; ow < hi; ++ow) yr[ow] += kv * xr[ow * sw + off];
        }
      }
    }
  }
}

template <typename T>
void input_grad(const T* __restrict gy, const T* __restrict k, T* __restrict gx,
                const DepthwisePlane& p) {
  const Window2d& win = p.win;
  const int64_t sw = win.stride_w;
  for (int64_t oh = 0; oh < p.h_out; ++oh) {
    const T* __restrict gr = gy + oh * p.w_out;
    for (int64_t i = 0; i < win.kh; ++i) {
      const int64_t ih = oh * win.stride_h + i * win.dil_h - win.pad_h;
      if (ih < 0 || ih >= p.h) continue;
      T* __restrict xr = gx + ih * p.w;
      for (int64_t j = 0; j < win.kw; ++j) {
        const int64_t off = j * win.dil_w - win.pad_w;
        int64_t lo, hi;
        column_range(off, sw, p.w, p.w_out, lo, hi);
        const T kv = k[i * win.kw + j];
        if (sw == 1) {
          T* __restrict xs = xr + off;
          for (int64_t ow = lo; ow < hi; ++ow) xs[ow] += kv * gr[ow];
        } else {
          for (int64_t ow = lo; ow < hi; ++ow) xr[ow * sw + off] += kv * gr[ow];
        }
      }
    }
  }
}

// sum of a[i] * b[i * s] for i in [0, n), 8 interleaved partial sums (vectorisable).
template <typename T>
inline T dot(const T* __restrict a, const T* __restrict b, int64_t s, int64_t n) {
  T acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t i = 0;
  if (s == 1) {
    for (; i + 8 <= n; i += 8)
      for (int u = 0; u < 8; ++u) acc[u] += a[i + u] * b[i + u];
  } else {
    for (; i + 8 <= n; i += 8)
      for (int u = 0; u < 8; ++u) acc[u] += a[i + u] * b[(i + u) * s];
  }
  for (int u = 0; i < n; ++i, ++u) acc[u] += a[i] * b[i * s];
  return ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
}

template <typename T>
void weight_grad(const T* __restrict gy, const T* __restrict x, double* __restrict acc,
                 const DepthwisePlane& p) {
  const Window2d& win = p.win;
  const int64_t sw = win.stride_w;
  for (int64_t i = 0; i < win.kh; ++i) {
    for (int64_t j = 0; j < win.kw; ++j) {
      const int64_t off = j * win.dil_w - win.pad_w;
      int64_t lo, hi;
      column_range(off, sw, p.w, p.w_out, lo, hi);
      if (lo >= hi) continue;
      double sum = 0.0;
      for (int64_t oh = 0; oh < p.h_out; ++oh) {
        const int64_t ih = oh * win.stride_h + i * win.dil_h - win.pad_h;
        if (ih < 0 || ih >= p.h) continue;
        sum += static_cast<double>(
            dot(gy + oh * p.w_out + lo, x + ih * p.w + lo * sw + off, sw, hi - lo));
      }
      acc[i * win.kw + j] += sum;
    }
  }
}

const DepthwiseKernels kDepthwise = {
    {&forward<float>, &input_grad<float>, &weight_grad<float>},
    {&forward<double>, &input_grad<double>, &weight_grad<double>},
};

}  // namespace

DLX_PROVIDE_KERNELS(conv_depthwise_kernels, kDepthwise)

}  // namespace dlx::DLX_ISA_NS
