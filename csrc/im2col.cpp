#include "im2col.h"

#include <algorithm>

#include "common.h"
#include "threads.h"

namespace dlx {
namespace {

// ceil(a / b) for b > 0 and any sign of a.
inline int64_t div_ceil(int64_t a, int64_t b) { return a >= 0 ? (a + b - 1) / b : -((-a) / b); }

// Output positions [lo, hi) of one axis whose input index o * stride + offset lies in
// [0, size); everything outside reads padding.
inline void valid_range(int64_t size, int64_t offset, int64_t stride, int64_t out, int64_t* lo,
                        int64_t* hi) {
  *lo = std::clamp<int64_t>(div_ceil(-offset, stride), 0, out);
  *hi = std::clamp<int64_t>(div_ceil(size - offset, stride), *lo, out);
}

// The output rows of one band: [row0, row1) with row1 = -1 meaning all h_out rows.
inline void clip_band(int64_t h_out, int64_t* row0, int64_t* row1) {
  if (*row1 < 0) *row1 = h_out;
  *row0 = std::clamp<int64_t>(*row0, 0, h_out);
  *row1 = std::clamp<int64_t>(*row1, *row0, h_out);
}

}  // namespace

int64_t Window2d::h_out(int64_t h) const { return window_out_size(h, kh, stride_h, pad_h, dil_h); }
int64_t Window2d::w_out(int64_t w) const { return window_out_size(w, kw, stride_w, pad_w, dil_w); }

template <typename T>
void im2col(const T* im, T* col, int64_t c, int64_t h, int64_t w, const Window2d& win, int64_t ld,
            int64_t row0, int64_t row1) {
  const int64_t h_out = win.h_out(h), w_out = win.w_out(w);
  clip_band(h_out, &row0, &row1);
  const int64_t len = (row1 - row0) * w_out, base = row0 * w_out;  // column q = oh * w_out + ow - base
  if (ld == 0) ld = len;
  const int64_t sh = win.stride_h, sw = win.stride_w;
  for (int64_t ci = 0; ci < c; ++ci) {
    const T* plane = im + ci * h * w;
    for (int64_t i = 0; i < win.kh; ++i) {
      const int64_t off_h = i * win.dil_h - win.pad_h;
      int64_t oh_lo, oh_hi;
      valid_range(h, off_h, sh, h_out, &oh_lo, &oh_hi);
      oh_lo = std::clamp(oh_lo, row0, row1);
      oh_hi = std::clamp(oh_hi, oh_lo, row1);
      for (int64_t j = 0; j < win.kw; ++j) {
        const int64_t off_w = j * win.dil_w - win.pad_w;
        int64_t ow_lo, ow_hi;
        valid_range(w, off_w, sw, w_out, &ow_lo, &ow_hi);
        T* row = col + ((ci * win.kh + i) * win.kw + j) * ld;
        std::fill(row, row + (oh_lo - row0) * w_out, T(0));
        std::fill(row + (oh_hi - row0) * w_out, row + len, T(0));
        if (sh == 1 && sw == 1 && w_out == w) {
          // Stride 1, 'same' width: output position k = oh * w + ow reads plane[k + shift]
          // for the whole block of valid rows, so copy it in one piece (clipped to the
          // plane) and then zero the few columns that fall in the padding.
          const int64_t shift = off_h * w + off_w;
          const int64_t k0 = oh_lo * w, k1 = oh_hi * w;
          const int64_t ka = std::clamp<int64_t>(-shift, k0, k1);
          const int64_t kb = std::clamp<int64_t>(h * w - shift, ka, k1);
          std::fill(row + (k0 - base), row + (ka - base), T(0));
          std::copy(plane + ka + shift, plane + kb + shift, row + (ka - base));
          std::fill(row + (kb - base), row + (k1 - base), T(0));
          for (int64_t oh = oh_lo; oh < oh_hi; ++oh) {
            T* dst = row + (oh - row0) * w;
            for (int64_t ow = 0; ow < ow_lo; ++ow) dst[ow] = T(0);
            for (int64_t ow = ow_hi; ow < w; ++ow) dst[ow] = T(0);
          }
          continue;
        }
        for (int64_t oh = oh_lo; oh < oh_hi; ++oh) {
          T* dst = row + (oh - row0) * w_out;
          const T* src = plane + (oh * sh + off_h) * w + off_w;  // src[ow * sw], ow in range
          for (int64_t ow = 0; ow < ow_lo; ++ow) dst[ow] = T(0);
          if (sw == 1) {
            std::copy(src + ow_lo, src + ow_hi, dst + ow_lo);
          } else {
            for (int64_t ow = ow_lo; ow < ow_hi; ++ow) dst[ow] = src[ow * sw];
          }
          for (int64_t ow = ow_hi; ow < w_out; ++ow) dst[ow] = T(0);
        }
      }
    }
  }
}

template <typename T>
void col2im(const T* col, T* im, int64_t c, int64_t h, int64_t w, const Window2d& win, int64_t ld,
            int64_t row0, int64_t row1) {
  const int64_t h_out = win.h_out(h), w_out = win.w_out(w);
  clip_band(h_out, &row0, &row1);
  const int64_t len = ld != 0 ? ld : (row1 - row0) * w_out;
  const int64_t sh = win.stride_h, sw = win.stride_w;
  for (int64_t ci = 0; ci < c; ++ci) {
    T* plane = im + ci * h * w;
    for (int64_t i = 0; i < win.kh; ++i) {
      const int64_t off_h = i * win.dil_h - win.pad_h;
      int64_t oh_lo, oh_hi;
      valid_range(h, off_h, sh, h_out, &oh_lo, &oh_hi);
      oh_lo = std::clamp(oh_lo, row0, row1);
      oh_hi = std::clamp(oh_hi, oh_lo, row1);
      const T* rows = col + (ci * win.kh + i) * win.kw * len;  // the kw rows of offset i
      for (int64_t j = 0; j < win.kw; ++j) {
        const int64_t off_w = j * win.dil_w - win.pad_w;
        int64_t ow_lo, ow_hi;
        valid_range(w, off_w, sw, w_out, &ow_lo, &ow_hi);
        const T* row = rows + j * len;
        for (int64_t oh = oh_lo; oh < oh_hi; ++oh) {
          const T* src = row + (oh - row0) * w_out;
          T* dst = plane + (oh * sh + off_h) * w + off_w;  // dst[ow * sw], ow in range
          if (sw == 1) {
            for (int64_t ow = ow_lo; ow < ow_hi; ++ow) dst[ow] += src[ow];
          } else {
            for (int64_t ow = ow_lo; ow < ow_hi; ++ow) dst[ow * sw] += src[ow];
          }
        }
      }
    }
  }
}

template <typename T>
void col2im_consume(T* col, T* im, int64_t c, int64_t h, int64_t w, const Window2d& win,
                    int64_t ld, int64_t row0, int64_t row1) {
  const int64_t h_out = win.h_out(h), w_out = win.w_out(w);
  if (!(win.stride_h == 1 && win.stride_w == 1 && w_out == w))
    return col2im(col, im, c, h, w, win, ld, row0, row1);
  clip_band(h_out, &row0, &row1);
  const int64_t len = ld != 0 ? ld : (row1 - row0) * w_out, base = row0 * w;
  // Stride 1, 'same' width: output position k = oh * w + ow adds into plane[k + shift] for
  // the whole block of valid rows. Zero the few entries that belong to padding taps (they
  // would land on a neighbouring row's edge pixel), then add the block in one long loop.
  for (int64_t ci = 0; ci < c; ++ci) {
    T* plane = im + ci * h * w;
    for (int64_t i = 0; i < win.kh; ++i) {
      const int64_t off_h = i * win.dil_h - win.pad_h;
      int64_t oh_lo, oh_hi;
      valid_range(h, off_h, 1, h_out, &oh_lo, &oh_hi);
      oh_lo = std::clamp(oh_lo, row0, row1);
      oh_hi = std::clamp(oh_hi, oh_lo, row1);
      for (int64_t j = 0; j < win.kw; ++j) {
        const int64_t off_w = j * win.dil_w - win.pad_w;
        int64_t ow_lo, ow_hi;
        valid_range(w, off_w, 1, w_out, &ow_lo, &ow_hi);
        T* row = col + ((ci * win.kh + i) * win.kw + j) * len;
        const int64_t shift = off_h * w + off_w;
        const int64_t k0 = std::clamp<int64_t>(oh_lo * w, -shift, h * w - shift);
        const int64_t k1 = std::clamp<int64_t>(oh_hi * w, k0, h * w - shift);
        if (ow_lo > 0 || ow_hi < w) {
          for (int64_t oh = oh_lo; oh < oh_hi; ++oh) {
            T* r = row + (oh - row0) * w;
            for (int64_t ow = 0; ow < ow_lo; ++ow) r[ow] = T(0);
            for (int64_t ow = ow_hi; ow < w; ++ow) r[ow] = T(0);
          }
        }
        if (k1 <= k0) continue;
        T* __restrict dst = plane + (k0 + shift);
        const T* __restrict src = row + (k0 - base);
        for (int64_t k = 0; k < k1 - k0; ++k) dst[k] += src[k];
      }
    }
  }
}

template <typename T>
void im2col_batch(const T* im, T* col, int64_t n, int64_t c, int64_t h, int64_t w,
                  const Window2d& win) {
  const int64_t im_size = c * h * w;
  const int64_t col_size = c * win.kh * win.kw * win.h_out(h) * win.w_out(w);
#pragma omp parallel for num_threads(num_threads()) schedule(static) if (n * col_size > 32768)
  for (int64_t b = 0; b < n; ++b) im2col(im + b * im_size, col + b * col_size, c, h, w, win);
}

template <typename T>
void col2im_batch(const T* col, T* im, int64_t n, int64_t c, int64_t h, int64_t w,
                  const Window2d& win) {
  const int64_t im_size = c * h * w;
  const int64_t col_size = c * win.kh * win.kw * win.h_out(h) * win.w_out(w);
#pragma omp parallel for num_threads(num_threads()) schedule(static) if (n * col_size > 32768)
  for (int64_t b = 0; b < n; ++b) col2im(col + b * col_size, im + b * im_size, c, h, w, win);
}

#define DLX_IM2COL(T)                                                                            \
  template void im2col<T>(const T*, T*, int64_t, int64_t, int64_t, const Window2d&, int64_t,     \
                          int64_t, int64_t);                                                     \
  template void col2im<T>(const T*, T*, int64_t, int64_t, int64_t, const Window2d&, int64_t,     \
                          int64_t, int64_t);                                                     \
  template void col2im_consume<T>(T*, T*, int64_t, int64_t, int64_t, const Window2d&, int64_t,   \
                                  int64_t, int64_t);                                             \
  template void im2col_batch<T>(const T*, T*, int64_t, int64_t, int64_t, int64_t,               \
                                const Window2d&);                                               \
  template void col2im_batch<T>(const T*, T*, int64_t, int64_t, int64_t, int64_t, const Window2d&);
DLX_INSTANTIATE(DLX_IM2COL)

}  // namespace dlx
