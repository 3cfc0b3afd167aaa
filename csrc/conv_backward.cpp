// Backward pass of conv2d (see conv.h): input, weight and bias gradients.
#include <algorithm>
#include <memory>
#include <type_traits>
#include <vector>

#include "conv.h"
#include "conv_depthwise.h"
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
using conv_detail::kPartialBytes;
using conv_detail::scatter_images;
using conv_detail::sum_double;
using conv_detail::use_direct_rows;
using conv_detail::choose_algo;
using conv_detail::implicit_input_grad;
using conv_detail::implicit_input_grad_phases;

namespace {

// The im2col path one band of output rows at a time (im2col.h), so one thread's column
// matrix ws stays within kColumnBudgetBytes; one band is the whole image when it fits.
// Weight gradient: pw[g] (+)= gy_b[g][:, band] @ cols(band)^T, beta for the first band.
template <typename T>
void weight_grad_bands(const T* xb, const T* gyb, T* pw, T beta, T* ws, const Conv2dShape& s,
                       const Dims& d, int64_t band) {
  for (int64_t r0 = 0; r0 < d.h_out; r0 += band) {
    const int64_t r1 = std::min(d.h_out, r0 + band), cols = (r1 - r0) * d.w_out;
    im2col(xb, ws, s.c, s.h, s.w, s.win, 0, r0, r1);
    for (int64_t g = 0; g < s.groups; ++g) {
      gemm(false, true, d.og, d.k, cols, T(1), gyb + g * d.og * d.l + r0 * d.w_out, d.l,
           ws + g * d.k * cols, cols, r0 == 0 ? beta : T(1), pw + g * d.og * d.k, d.k);
    }
  }
}

// Input gradient: gx_b = sum over bands of col2im(W_g^T @ gy_b[g][:, band]).
template <typename T>
void input_grad_bands(const T* gyb, const T* weight, T* gxb, T* ws, const Conv2dShape& s,
                      const Dims& d, int64_t band) {
  std::fill_n(gxb, d.x_size, T(0));
  for (int64_t r0 = 0; r0 < d.h_out; r0 += band) {
    const int64_t r1 = std::min(d.h_out, r0 + band), cols = (r1 - r0) * d.w_out;
    for (int64_t g = 0; g < s.groups; ++g) {
      gemm(true, false, d.k, cols, d.og, T(1), weight + g * d.og * d.k, d.k,
           gyb + g * d.og * d.l + r0 * d.w_out, d.l, T(0), ws + g * d.k * cols, cols);
    }
    col2im_consume(ws, gxb, s.c, s.h, s.w, s.win, 0, r0, r1);
  }
}

// The input gradient of a strided convolution without col2im. gx splits into the
// stride_h * stride_w phases (ih % stride_h, iw % stride_w) = (rh, rw); the taps i that reach
// phase rh are those with (rh + pad_h - i * dil_h) % stride_h == 0, and gx[ci, rh + a *
// stride_h, ...] reads gy[oc, a + e_i, ...] with e_i = (rh + pad_h - i * dil_h) / stride_h.
// Sorted by e_i these taps are evenly spaced (a dilated kernel), so each phase is a stride-1
// correlation of gy with a flipped sub-kernel: one implicit GEMM per phase, whose output is
// scattered to the phase's positions (the phases partition gx).
struct GradTaps {  // one direction of one phase
  int64_t n = 0;               // taps reaching it
  int64_t first = 0, dil = 1;  // e of the first tap (the smallest) and the spacing
  int64_t tap[64] = {};        // original tap index of sub-tap t (e ascending)
  int64_t rows = 0;            // gx rows (columns) of the phase: ceil((size - r) / stride)
};
GradTaps grad_taps(int64_t r, int64_t size, int64_t k, int64_t stride, int64_t pad,
                   int64_t dil) {
  GradTaps t;
  t.rows = size > r ? (size - r + stride - 1) / stride : 0;
  for (int64_t i = k - 1; i >= 0; --i) {  // e decreases with i: ascending e
    const int64_t num = r + pad - i * dil;
    if (((num % stride) + stride) % stride != 0 || t.n == 64) continue;
    const int64_t e = num >= 0 ? num / stride : -((-num) / stride);
    if (t.n == 0) t.first = e;
    if (t.n == 1) t.dil = e - t.first;
    t.tap[t.n++] = i;
  }
  return t;
}

struct GradPhase {
  int64_t rh, rw;
  GradTaps th, tw;
  std::unique_ptr<SgemmPackedA> a;  // (c, o * th.n * tw.n) sub-kernel, flipped; null: no tap
};

std::vector<GradPhase> grad_phases(const float* weight, const Conv2dShape& s) {
  const Window2d& k = s.win;
  std::vector<GradPhase> phases;
  const int64_t taps = k.kh * k.kw;
  for (int64_t rh = 0; rh < k.stride_h; ++rh)
    for (int64_t rw = 0; rw < k.stride_w; ++rw) {
      GradPhase p;
      p.rh = rh;
      p.rw = rw;
      p.th = grad_taps(rh, s.h, k.kh, k.stride_h, k.pad_h, k.dil_h);
      p.tw = grad_taps(rw, s.w, k.kw, k.stride_w, k.pad_w, k.dil_w);
      const int64_t sub = p.th.n * p.tw.n, cols = s.o * sub;
      if (sub > 0 && p.th.rows > 0 && p.tw.rows > 0) {
        std::vector<float> a(static_cast<size_t>(s.c * cols));
        for (int64_t ci = 0; ci < s.c; ++ci)
          for (int64_t oc = 0; oc < s.o; ++oc)
            for (int64_t i = 0; i < p.th.n; ++i)
              for (int64_t j = 0; j < p.tw.n; ++j)
                a[ci * cols + (oc * p.th.n + i) * p.tw.n + j] =
                    weight[(oc * s.c + ci) * taps + p.th.tap[i] * k.kw + p.tw.tap[j]];
        p.a = std::make_unique<SgemmPackedA>(false, s.c, cols, a.data(), cols);
      }
      phases.push_back(std::move(p));
    }
  return phases;
}

// gx of nb images (gx_b: the first) from gy_b, phase by phase; out: c * nb * (phase size).
void input_grad_phases(const std::vector<GradPhase>& phases, const float* gyb, float* gxb,
                       int64_t nb, float* out, const Conv2dShape& s, const Dims& d) {
  for (const GradPhase& p : phases) {
    const int64_t na = p.th.rows, nw = p.tw.rows, len = na * nw, cols_n = nb * len;
    if (len == 0) continue;
    if (p.a != nullptr) {
      ConvCols g{gyb,           s.o,          d.h_out,      d.w_out,     p.th.n, p.tw.n,
                 p.th.dil,      p.tw.dil,     -p.th.first,  -p.tw.first};
      g.h_out = na;
      g.w_out = nw;
      g.images = nb;
      g.image_stride = d.y_size;
      const ImplicitCols cols(g, false);
      own_sgemm_sourced(*p.a, cols_n, cols, 1.0f, 0.0f, out, cols_n);
    }
    for (int64_t j = 0; j < nb; ++j)
      for (int64_t ci = 0; ci < s.c; ++ci) {
        float* plane = gxb + j * d.x_size + ci * s.h * s.w;
        const float* src = out + ci * cols_n + j * len;
        for (int64_t a = 0; a < na; ++a) {
          float* row = plane + (p.rh + a * s.win.stride_h) * s.w + p.rw;
          for (int64_t b = 0; b < nw; ++b)
            row[b * s.win.stride_w] = p.a != nullptr ? src[a * nw + b] : 0.0f;
        }
      }
  }
}

}  // namespace

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
  const ConvAlgo algo = choose_algo<T>(s);
  if (algo == ConvAlgo::depthwise) {
    conv2d_depthwise_backward(gy, x, weight, gx, gw, gb, s);
    return;
  }
  const bool implicit = algo == ConvAlgo::implicit;
  constexpr int64_t elem = sizeof(T);
  // Several images per implicit GEMM need the channels-last weight gradient (c % 16 == 0).
  // Explicit: several images' columns share a GEMM only while they fit the column budget.
  const int64_t chunk = !implicit       ? (d.direct ? 1
                                                    : im2col_images(images_per_gemm<T>(d, s),
                                                                    d.col_size, elem))
                        : s.c % 16 == 0 ? implicit_images(d, s)
                                        : 1;
  const int64_t band = im2col_band_rows(d.k * s.groups, d.h_out, d.w_out, elem);
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
  // Strided convolutions' input gradients are not convolutions: W^T @ gy + col2im.
  const bool implicit_gx = implicit && gx != nullptr && implicit_input_grad(s);
  const bool phases_gx = implicit && gx != nullptr && implicit_input_grad_phases(s);
  const bool need_col = (gw != nullptr || gx != nullptr) && !d.direct &&
                        (!implicit || (gx != nullptr && !implicit_gx && !phases_gx));
  const double work =
      static_cast<double>(s.n) * s.o * d.k * d.l * ((gw != nullptr) + (gx != nullptr));
  // Workspace: columns of `chunk` images (one band of them when chunk == 1), then
  // (chunk > 1) their output gradients gathered side by side as one (o, cols) matrix.
  const int64_t col_ws = chunk > 1 ? checked_mul(d.col_size, chunk, "conv2d")
                                   : d.k * s.groups * std::min(band, d.h_out) * d.w_out;
  const int64_t scratch = (need_col ? col_ws : 0) +
                          (chunk > 1 ? checked_mul(s.o * chunk, d.l, "conv2d") : 0);

  // Implicit input gradient: the kernel flipped in space with in/out channels swapped,
  // w_flip[ci, (oc, i, j)] = weight[oc, ci, kh - 1 - i, kw - 1 - j], packed once.
  std::unique_ptr<SgemmPackedA> w_flip;
  std::vector<GradPhase> phases;  // strided implicit input gradient
  int64_t phase_size = 0;         // its output workspace
  if constexpr (std::is_same_v<T, float>) {
    if (phases_gx) {
      phases = grad_phases(weight, s);
      const int64_t most = ((s.h + s.win.stride_h - 1) / s.win.stride_h) *
                           ((s.w + s.win.stride_w - 1) / s.win.stride_w);
      phase_size = checked_mul(checked_mul(s.c, chunk, "conv2d"), most, "conv2d");
    }
  }
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
  for_each_item<T>(parts, work, scratch + xt_size + gather_size + phase_size,
                   [&](int64_t p, T* ws) {
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
              to_channels_last(x + (b0 + j) * d.x_size, s.c, s.h * s.w, xt + j * d.x_size);
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
            const int64_t hw = s.h * s.w, gx_cols = nb * hw;  // gx's columns: input positions
            if (nb == 1 && !flip16.empty()) {
              conv_rows_direct(flip16.data(), s.c, gg, gxb, hw, 0.0f);
            } else if (nb == 1) {
              own_sgemm_sourced(*w_flip, hw, cols, 1.0f, 0.0f, gxb, hw);
            } else {
              own_sgemm_sourced(*w_flip, gx_cols, cols, 1.0f, 0.0f, gxc, gx_cols);
              scatter_images<T>(gxc, s.c, nb, hw, gxb, d.x_size, nullptr);
            }
          } else if (phases_gx) {
            input_grad_phases(phases, gyb, gx + b0 * d.x_size, nb,
                              ws + scratch + xt_size + gather_size, s, d);
          } else if (gx != nullptr) {
            for (int64_t j = 0; j < nb; ++j)
              input_grad_bands(gyb + j * d.y_size, weight, gx + (b0 + j) * d.x_size, ws, s, d,
                               band);
          }
          continue;
        }
      }
      if (nb == 1) {
        const T* xb = x + b0 * d.x_size;
        const T* gyb = gy + b0 * d.y_size;
        T* gxb = gx == nullptr ? nullptr : gx + b0 * d.x_size;
        if (pb != nullptr)
          for (int64_t oc = 0; oc < s.o; ++oc) pb[oc] += sum_double(gyb + oc * d.l, d.l);
        if (!d.direct) {
          if (pw != nullptr) weight_grad_bands(xb, gyb, pw, beta_w, ws, s, d, band);
          if (gxb != nullptr) input_grad_bands(gyb, weight, gxb, ws, s, d, band);
          continue;
        }
        // Without im2col the columns are the input and their gradient is the input gradient.
        for (int64_t g = 0; g < s.groups; ++g) {
          if (pw != nullptr)
            gemm(false, true, d.og, d.k, d.l, T(1), gyb + g * d.og * d.l, d.l, xb + g * d.k * d.l,
                 d.l, beta_w, pw + g * d.og * d.k, d.k);
          if (gxb != nullptr)
            gemm(true, false, d.k, d.l, d.og, T(1), weight + g * d.og * d.k, d.k,
                 gyb + g * d.og * d.l, d.l, T(0), gxb + g * d.k * d.l, d.l);
        }
        continue;
      }
      // nb images side by side (never direct: images_per_gemm gives 1 there).
      const int64_t cols = nb * d.l;
      T* col = ws;
      T* gyc = ws + (need_col ? col_ws : 0);  // after the columns, when there are any
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
