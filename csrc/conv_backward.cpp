// Backward pass of conv2d (see conv.h): input, weight and bias gradients.
#include <algorithm>
#include <memory>
#include <type_traits>
#include <vector>

#include "conv.h"
#include "conv_detail.h"

namespace dlx {

using conv_detail::Dims;
using conv_detail::for_each_item;
using conv_detail::gather_images;
using conv_detail::grad_output_cols;
using conv_detail::images_per_gemm;
using conv_detail::implicit_images;
using conv_detail::input_cols;
using conv_detail::kMaxParts;
using conv_detail::kMinImplicitGxChannels;
using conv_detail::kPartialBytes;
using conv_detail::scatter_images;
using conv_detail::sum_double;
using conv_detail::use_direct_rows;
using conv_detail::use_implicit;

template <typename T>
void conv2d_backward(const T* gy, const T* x, const T* weight, T* gx, T* gw, T* gb,
                     const Conv2dShape& s) {
  const Dims d(s);
  const int64_t w_size = s.o * d.k;
  if (s.n == 0 || d.y_size == 0) {
    if (gx != nullptr) std::fill_n(gx, s.n * d.x_size, T(0));
    if (gw != nullptr) std::fill_n(gw, w_size, T(0));
    if (gb != nullptr) std::fill_n(gb, s.o, T(0));
    return;
  }
  const bool implicit = use_implicit<T>(s, d);
  // Several images per implicit GEMM need the channels-last weight gradient (c % 16 == 0).
  const int64_t chunk = !implicit       ? images_per_gemm<T>(d, s)
                        : s.c % 16 == 0 ? implicit_images(d, s)
                                        : 1;
  const int64_t chunks = (s.n + chunk - 1) / chunk;
  // Fixed runs of chunks (they depend on the shape only, never on the thread count).
  int64_t parts = chunks;
  if (gw != nullptr) {
    const int64_t fit = kPartialBytes / std::max<int64_t>(w_size * sizeof(T), 1);
    parts = std::clamp<int64_t>(std::min(chunks, kMaxParts), 1, std::max<int64_t>(fit, 1));
  }
  // Implicit weight gradient with >= 16 channels: channels-last columns, the gradient comes
  // out in (o, kh, kw, c) order and is permuted when the parts are summed.
  const bool taps_first = implicit && gw != nullptr && s.c % 16 == 0;
  const bool own_parts = gw != nullptr && (parts > 1 || taps_first);
  // Partial sums need no zeroing: each part's first GEMM runs with beta = 0.
  std::unique_ptr<T[]> part_w(own_parts ? new T[parts * w_size] : nullptr);
  std::vector<double> part_b(gb != nullptr ? static_cast<size_t>(parts * s.o) : 0, 0.0);
  // The implicit input gradient is a GEMM with M = input channels: with only a few (an
  // RGB or grey image), the explicit W^T @ gy + col2im is faster.
  const bool implicit_gx = implicit && gx != nullptr && s.c >= kMinImplicitGxChannels;
  const bool need_col = (gw != nullptr || gx != nullptr) && !d.direct &&
                        (!implicit || (gx != nullptr && !implicit_gx));
  const double work =
      static_cast<double>(s.n) * s.o * d.k * d.l * ((gw != nullptr) + (gx != nullptr));
  // Workspace: columns of `chunk` images, then (chunk > 1) their output gradients gathered
  // side by side as one (o, cols) matrix.
  const int64_t scratch = (need_col ? checked_mul(d.col_size, chunk, "conv2d") : 0) +
                          (chunk > 1 ? checked_mul(s.o * chunk, d.l, "conv2d") : 0);

  // Implicit input gradient: the kernel flipped in space with in/out channels swapped,
  // w_flip[ci, (oc, i, j)] = weight[oc, ci, kh - 1 - i, kw - 1 - j], packed once.
  std::unique_ptr<SgemmPackedA> w_flip;
  std::vector<float> flip16;  // the same for conv_rows_direct (at most 16 input channels)
  if constexpr (std::is_same_v<T, float>) {
    if (implicit_gx) {
      const int64_t kh = s.win.kh, kw = s.win.kw, taps = kh * kw, cols = s.o * taps;
      std::vector<float> flipped(static_cast<size_t>(s.c * cols));
      for (int64_t oc = 0; oc < s.o; ++oc)
        for (int64_t ci = 0; ci < s.c; ++ci)
          for (int64_t t = 0; t < taps; ++t)
            flipped[ci * cols + oc * taps + t] = weight[(oc * s.c + ci) * taps + (taps - 1 - t)];
      w_flip = std::make_unique<SgemmPackedA>(false, s.c, cols, flipped.data(), cols);
      if (use_direct_rows(s, s.c)) flip16 = pack_rows16(flipped.data(), s.c, cols);
    }
  }

  // Implicit: channels-last images for the weight gradient; with several images per GEMM
  // also the gathered output gradient and the input gradient before its scatter.
  const int64_t xt_size = taps_first ? checked_mul(d.x_size, chunk, "conv2d") : 0;
  const int64_t gather_size = implicit && chunk > 1 ? checked_mul(s.o * chunk, d.l, "conv2d") +
                                                          checked_mul(d.x_size, chunk, "conv2d")
                                                    : 0;
  for_each_item<T>(parts, work, scratch + xt_size + gather_size, [&](int64_t p, T* ws) {
    T* pw = gw == nullptr ? nullptr : own_parts ? part_w.get() + p * w_size : gw;
    double* pb = gb == nullptr ? nullptr : part_b.data() + p * s.o;
    const int64_t c_lo = p * chunks / parts, c_hi = (p + 1) * chunks / parts;
    for (int64_t ci = c_lo; ci < c_hi; ++ci) {
      const int64_t b0 = ci * chunk, nb = std::min(chunk, s.n - b0);
      const T beta_w = ci == c_lo ? T(0) : T(1);
      if constexpr (std::is_same_v<T, float>) {
        if (implicit) {
          // nb images side by side: columns j = image * l + position (ConvCols::images).
          const int64_t cols_n = nb * d.l;
          const T* gyb = gy + b0 * d.y_size;
          T* xt = ws + scratch;
          T* gyc = xt + xt_size;  // (o, cols_n) when nb > 1
          T* gxc = gyc + s.o * chunk * d.l;
          const T* a = gyb;  // the output gradient as an (o, cols_n) matrix
          if (nb > 1) {
            gather_images(gyb, s.o, nb, d.l, d.y_size, gyc);
            a = gyc;
          }
          ConvCols xg = input_cols(x + b0 * d.x_size, s);
          xg.images = nb;
          xg.image_stride = d.x_size;
          if (pw != nullptr && taps_first) {  // pw[o, (tap, c)] (+)= gy @ cols^T
            for (int64_t j = 0; j < nb; ++j)
              to_channels_last(x + (b0 + j) * d.x_size, s.c, d.l, xt + j * d.x_size);
            const ChannelsLastTapCols cols(xg, xt);
            own_sgemm_sourced(false, s.o, d.k, cols_n, a, cols_n, cols, 1.0f, beta_w, pw, d.k);
          } else if (pw != nullptr) {  // one image: gw[o, k] (+)= gy_b[o, l] @ cols^T[l, k]
            const ImplicitCols cols(xg, true);
            own_sgemm_sourced(false, s.o, d.k, d.l, a, d.l, cols, 1.0f, beta_w, pw, d.k);
          }
          if (pb != nullptr)
            for (int64_t oc = 0; oc < s.o; ++oc) pb[oc] += sum_double(a + oc * cols_n, cols_n);
          if (implicit_gx) {  // gx[c, cols] = w_flip[c, o * kh * kw] @ cols(gy)
            ConvCols gg = grad_output_cols(gyb, s);
            gg.images = nb;
            gg.image_stride = d.y_size;
            const ImplicitCols cols(gg, false);
            T* gxb = gx + b0 * d.x_size;
            if (nb == 1 && !flip16.empty()) {
              conv_rows_direct(flip16.data(), s.c, gg, gxb, d.l, 0.0f);
            } else if (nb == 1) {
              own_sgemm_sourced(*w_flip, d.l, cols, 1.0f, 0.0f, gxb, d.l);
            } else {
              own_sgemm_sourced(*w_flip, cols_n, cols, 1.0f, 0.0f, gxc, cols_n);
              scatter_images<T>(gxc, s.c, nb, d.l, gxb, d.x_size, nullptr);
            }
          } else if (gx != nullptr) {  // one image (nb > 1 needs c % 16 == 0 >= 8)
            T* gxb = gx + b0 * d.x_size;
            gemm(true, false, d.k, d.l, s.o, T(1), weight, d.k, gyb, d.l, T(0), ws, d.l);
            std::fill_n(gxb, d.x_size, T(0));
            col2im_consume(ws, gxb, s.c, s.h, s.w, s.win);
          }
          continue;
        }
      }
      if (nb == 1) {
        const T* xb = x + b0 * d.x_size;
        const T* gyb = gy + b0 * d.y_size;
        if (pw != nullptr) {
          const T* col = xb;
          if (!d.direct) {
            im2col(xb, ws, s.c, s.h, s.w, s.win);
            col = ws;
          }
          for (int64_t g = 0; g < s.groups; ++g) {
            gemm(false, true, d.og, d.k, d.l, T(1), gyb + g * d.og * d.l, d.l, col + g * d.k * d.l,
                 d.l, beta_w, pw + g * d.og * d.k, d.k);
          }
        }
        if (pb != nullptr)
          for (int64_t oc = 0; oc < s.o; ++oc) pb[oc] += sum_double(gyb + oc * d.l, d.l);
        if (gx != nullptr) {
          T* gxb = gx + b0 * d.x_size;
          // Without im2col the column gradient is the input gradient itself.
          T* dcol = d.direct ? gxb : ws;
          for (int64_t g = 0; g < s.groups; ++g) {
            gemm(true, false, d.k, d.l, d.og, T(1), weight + g * d.og * d.k, d.k,
                 gyb + g * d.og * d.l, d.l, T(0), dcol + g * d.k * d.l, d.l);
          }
          if (!d.direct) {
            std::fill_n(gxb, d.x_size, T(0));
            col2im_consume(dcol, gxb, s.c, s.h, s.w, s.win);
          }
        }
        continue;
      }
      // nb images side by side (never direct: images_per_gemm gives 1 there).
      const int64_t cols = nb * d.l;
      T* col = ws;
      T* gyc = ws + d.col_size * chunk;
      gather_images(gy + b0 * d.y_size, s.o, nb, d.l, d.y_size, gyc);
      if (pw != nullptr) {
        for (int64_t j = 0; j < nb; ++j)
          im2col(x + (b0 + j) * d.x_size, col + j * d.l, s.c, s.h, s.w, s.win, cols);
        for (int64_t g = 0; g < s.groups; ++g) {
          gemm(false, true, d.og, d.k, cols, T(1), gyc + g * d.og * cols, cols,
               col + g * d.k * cols, cols, beta_w, pw + g * d.og * d.k, d.k);
        }
      }
      if (pb != nullptr)
        for (int64_t oc = 0; oc < s.o; ++oc) pb[oc] += sum_double(gyc + oc * cols, cols);
      if (gx != nullptr) {
        for (int64_t g = 0; g < s.groups; ++g) {
          gemm(true, false, d.k, cols, d.og, T(1), weight + g * d.og * d.k, d.k,
               gyc + g * d.og * cols, cols, T(0), col + g * d.k * cols, cols);
        }
        for (int64_t j = 0; j < nb; ++j) {
          T* gxb = gx + (b0 + j) * d.x_size;
          std::fill_n(gxb, d.x_size, T(0));
          col2im_consume(col + j * d.l, gxb, s.c, s.h, s.w, s.win, cols);
        }
      }
    }
  });

  if (own_parts) {
    // gw[oc, ci, tap] from parts laid out [oc, ci, tap], or [oc, tap, ci] when taps_first.
    const int64_t taps = s.win.kh * s.win.kw, cin = d.k / taps;
#pragma omp parallel for num_threads(num_threads()) schedule(static) if (parts * w_size > 32768)
    for (int64_t i = 0; i < w_size; ++i) {
      int64_t src = i;
      if (taps_first) {
        const int64_t oc = i / d.k, ci = (i % d.k) / taps, t = i % taps;
        src = oc * d.k + t * cin + ci;
      }
      double acc = 0.0;
      for (int64_t p = 0; p < parts; ++p) acc += static_cast<double>(part_w[p * w_size + src]);
      gw[i] = static_cast<T>(acc);
    }
  }
  if (gb != nullptr) {
    for (int64_t oc = 0; oc < s.o; ++oc) {
      double acc = 0.0;
      for (int64_t p = 0; p < parts; ++p) acc += part_b[p * s.o + oc];
      gb[oc] = static_cast<T>(acc);
    }
  }
}

#define DLX_CONV_BACKWARD(T) \
  template void conv2d_backward<T>(const T*, const T*, const T*, T*, T*, T*, const Conv2dShape&);
DLX_INSTANTIATE(DLX_CONV_BACKWARD)

}  // namespace dlx
