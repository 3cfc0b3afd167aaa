// Forward pass of conv2d (see conv.h); the backward pass is in conv_backward.cpp.
#include "conv.h"

#include <algorithm>
#include <memory>
#include <type_traits>
#include <vector>

#include "conv_depthwise.h"
#include "conv_detail.h"

namespace dlx {

using conv_detail::Dims;
using conv_detail::for_each_item;
using conv_detail::images_per_gemm;
using conv_detail::implicit_images;
using conv_detail::input_cols;
using conv_detail::scatter_images;
using conv_detail::use_direct_rows;
using conv_detail::choose_algo;

template <typename T>
void conv2d_forward(const T* x, const T* weight, const T* bias, T* y, const Conv2dShape& s) {
  const Dims d(s);
  if (s.n == 0 || d.y_size == 0) return;
  const double work = static_cast<double>(s.n) * s.o * d.k * d.l;
  const ConvAlgo algo = choose_algo<T>(s);
  if (algo == ConvAlgo::depthwise) {
    conv2d_depthwise_forward(x, weight, bias, y, s);
    return;
  }
  if constexpr (std::is_same_v<T, float>) {
    if (algo == ConvAlgo::implicit) {
      const SgemmPackedA w(false, s.o, d.k, weight, d.k);  // packed once for every image
      const int64_t chunk = implicit_images(d, s), chunks = (s.n + chunk - 1) / chunk;
      // Up to 16 output channels, one image per call: rows without a GEMM.
      const bool direct_rows = use_direct_rows(s, s.o) && chunk == 1;
      const std::vector<float> w16 =
          direct_rows ? pack_rows16(weight, s.o, d.k) : std::vector<float>();
      const int64_t scratch = chunk > 1 ? checked_mul(s.o * chunk, d.l, "conv2d") : 0;
      for_each_item<T>(chunks, work, scratch, [&](int64_t item, T* ws) {
        const int64_t b0 = item * chunk, nb = std::min(chunk, s.n - b0);
        ConvCols g = input_cols(x + b0 * d.x_size, s);
        g.images = nb;
        g.image_stride = d.x_size;
        const ImplicitCols cols(g, false);
        T* yb = y + b0 * d.y_size;
        if (nb == 1) {
          if (bias != nullptr)
            for (int64_t oc = 0; oc < s.o; ++oc) std::fill_n(yb + oc * d.l, d.l, bias[oc]);
          if (direct_rows)
            conv_rows_direct(w16.data(), s.o, g, yb, d.l, bias != nullptr ? 1.0f : 0.0f);
          else
            own_sgemm_sourced(w, d.l, cols, 1.0f, bias != nullptr ? 1.0f : 0.0f, yb, d.l);
        } else {
          own_sgemm_sourced(w, nb * d.l, cols, 1.0f, 0.0f, ws, nb * d.l);
          scatter_images(ws, s.o, nb, d.l, yb, d.y_size, bias);
        }
      });
      return;
    }
  }
  // Columns of several images share one GEMM only while they fit the per-thread budget;
  // one image's columns larger than that are made and multiplied a band of rows at a time.
  constexpr int64_t elem = sizeof(T);
  const int64_t chunk = d.direct ? 1 : im2col_images(images_per_gemm<T>(d, s), d.col_size, elem);
  const int64_t chunks = (s.n + chunk - 1) / chunk;
  const int64_t band = im2col_band_rows(d.k * s.groups, d.h_out, d.w_out, elem);
  // Workspace: one band's column matrix, or the columns of `chunk` images and their output.
  const int64_t scratch = d.direct  ? 0
                          : chunk > 1 ? checked_mul(d.col_size, chunk, "conv2d") +
                                            checked_mul(s.o * chunk, d.l, "conv2d")
                                      : d.k * s.groups * std::min(band, d.h_out) * d.w_out;
  for_each_item<T>(chunks, work, scratch, [&](int64_t item, T* ws) {
    const int64_t b0 = item * chunk, nb = std::min(chunk, s.n - b0);
    if (nb == 1) {
      const T* xb = x + b0 * d.x_size;
      T* yb = y + b0 * d.y_size;
      if (bias != nullptr)
        for (int64_t oc = 0; oc < s.o; ++oc) std::fill_n(yb + oc * d.l, d.l, bias[oc]);
      const T beta = bias != nullptr ? T(1) : T(0);
      if (d.direct) {
        for (int64_t g = 0; g < s.groups; ++g)
          gemm(false, false, d.og, d.l, d.k, T(1), weight + g * d.og * d.k, d.k, xb + g * d.k * d.l,
               d.l, beta, yb + g * d.og * d.l, d.l);
        return;
      }
      // y[:, rows r0..r1) = W_g @ im2col(rows r0..r1); the whole image when it fits.
      for (int64_t r0 = 0; r0 < d.h_out; r0 += band) {
        const int64_t r1 = std::min(d.h_out, r0 + band), cols = (r1 - r0) * d.w_out;
        im2col(xb, ws, s.c, s.h, s.w, s.win, 0, r0, r1);
        for (int64_t g = 0; g < s.groups; ++g) {
          gemm(false, false, d.og, cols, d.k, T(1), weight + g * d.og * d.k, d.k,
               ws + g * d.k * cols, cols, beta, yb + g * d.og * d.l + r0 * d.w_out, d.l);
        }
      }
      return;
    }
    // nb images side by side: col is (groups * k, cols), out is (o, cols).
    const int64_t cols = nb * d.l;
    T* col = ws;
    T* out = ws + d.col_size * chunk;
    for (int64_t j = 0; j < nb; ++j)
      im2col(x + (b0 + j) * d.x_size, col + j * d.l, s.c, s.h, s.w, s.win, cols);
    for (int64_t g = 0; g < s.groups; ++g) {
      gemm(false, false, d.og, cols, d.k, T(1), weight + g * d.og * d.k, d.k, col + g * d.k * cols,
           cols, T(0), out + g * d.og * cols, cols);
    }
    scatter_images(out, s.o, nb, d.l, y + b0 * d.y_size, d.y_size, bias);
  });
}

#define DLX_CONV_FORWARD(T) \
  template void conv2d_forward<T>(const T*, const T*, const T*, T*, const Conv2dShape&);
DLX_INSTANTIATE(DLX_CONV_FORWARD)

}  // namespace dlx
