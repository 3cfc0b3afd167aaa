// im2col / col2im: the unfolding that turns a 2-D convolution into a GEMM.
//
// One image im is (c, h, w), row-major. Its column matrix col is
//   (c * kh * kw, h_out * w_out), row-major, row r = (ci * kh + i) * kw + j,
//   col[r, oh * w_out + ow] = im[ci, oh * stride_h - pad_h + i * dil_h,
//                                    ow * stride_w - pad_w + j * dil_w]
// with 0 where that position falls in the padding. h_out / w_out follow
// window_out_size (common.h). Rows of one channel are contiguous, so the rows of a
// channel group [g * c_g, (g + 1) * c_g) form one contiguous block of the matrix.
//
// Row bands: with [row0, row1) given, only output rows row0 <= oh < row1 are unfolded (or
// folded back): col is then (c * kh * kw, (row1 - row0) * w_out), column (oh - row0) *
// w_out + ow. conv2d's im2col path works band by band so that one thread's column matrix
// stays under kColumnBudgetBytes however large the image (im2col_band_rows).
//
// im2col overwrites col. col2im is its adjoint: it ADDS each column entry into the image
// position it came from (entries from padding are dropped), so the caller zeroes im
// first when it wants the plain fold. The *_batch versions loop over n images
// (im: (n, c, h, w), col: (n, c * kh * kw, h_out * w_out)) in parallel.
#pragma once

#include <algorithm>
#include <cstdint>

namespace dlx {

// Kernel window geometry shared by im2col, col2im and conv2d.
struct Window2d {
  int64_t kh = 1, kw = 1;
  int64_t stride_h = 1, stride_w = 1;
  int64_t pad_h = 0, pad_w = 0;
  int64_t dil_h = 1, dil_w = 1;

  int64_t h_out(int64_t h) const;
  int64_t w_out(int64_t w) const;
  // True when col == im as a (c, h * w) matrix: 1x1 kernel, stride 1, no padding.
  bool is_identity() const {
    return kh == 1 && kw == 1 && stride_h == 1 && stride_w == 1 && pad_h == 0 && pad_w == 0;
  }
};

// ld: row stride of col in elements (0: the band's columns, rows packed). A larger ld
// lets several images share one column matrix side by side (conv's batched GEMMs).
// row1 = -1 means h_out (the whole image).
template <typename T>
void im2col(const T* im, T* col, int64_t c, int64_t h, int64_t w, const Window2d& win,
            int64_t ld = 0, int64_t row0 = 0, int64_t row1 = -1);

template <typename T>
void col2im(const T* col, T* im, int64_t c, int64_t h, int64_t w, const Window2d& win,
            int64_t ld = 0, int64_t row0 = 0, int64_t row1 = -1);

// col2im for a column matrix that is scratch: same result, but it may overwrite col (it
// zeroes the entries of padding taps so that stride-1 'same'-width planes add in long runs).
template <typename T>
void col2im_consume(T* col, T* im, int64_t c, int64_t h, int64_t w, const Window2d& win,
                    int64_t ld = 0, int64_t row0 = 0, int64_t row1 = -1);

// The most bytes one thread's column matrix may take in conv2d's im2col path.
constexpr int64_t kColumnBudgetBytes = int64_t{32} << 20;

// Output rows per band so that a band's columns (col_rows x rows * w_out items of elem
// bytes) fit kColumnBudgetBytes; at least one row, at most h_out.
inline int64_t im2col_band_rows(int64_t col_rows, int64_t h_out, int64_t w_out, int64_t elem) {
  const int64_t per_row = std::max<int64_t>(col_rows, 1) * std::max<int64_t>(w_out, 1);
  const int64_t rows = kColumnBudgetBytes / elem / per_row;  // per_row fits: it is <= col_size
  return std::clamp<int64_t>(rows, 1, std::max<int64_t>(h_out, 1));
}

// Images whose column matrices sit side by side in one GEMM: at most `wanted`, and only as
// many as fit kColumnBudgetBytes (at least one; a single image is then split into bands).
inline int64_t im2col_images(int64_t wanted, int64_t col_size, int64_t elem) {
  const int64_t fit = kColumnBudgetBytes / elem / std::max<int64_t>(col_size, 1);
  return std::clamp<int64_t>(fit, 1, std::max<int64_t>(wanted, 1));
}

template <typename T>
void im2col_batch(const T* im, T* col, int64_t n, int64_t c, int64_t h, int64_t w,
                  const Window2d& win);

template <typename T>
void col2im_batch(const T* col, T* im, int64_t n, int64_t c, int64_t h, int64_t w,
                  const Window2d& win);

}  // namespace dlx
