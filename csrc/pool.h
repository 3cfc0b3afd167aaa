// 2-D pooling kernels on NCHW buffers, PyTorch semantics.
//   x: (planes, h_in, w_in) with planes = N * C    y, indices, gy: (planes, h_out, w_out)
// Output sizes come from dlx::window_out_size (common.h), ceil_mode included.
//
// max_pool2d_forward: y = max over the dilated window, padding acts as -inf. indices holds
//   the argmax as a flat offset ih * w_in + iw within its plane (PyTorch's convention).
//   Ties: the first maximum in row-major window order wins; a NaN wins over any number and
//   a later NaN over an earlier one (PyTorch's `val > max || isnan(val)`). A window with no
//   tap inside the input (possible with dilation) gives -inf and index -1.
// max_pool2d_backward: gx = 0, then gx[plane][indices] += gy (correct for overlapping
//   windows). Index -1 is skipped; returns the number of other indices outside
//   [0, h_in * w_in), which are skipped too (the binding turns a non-zero count into an error).
// avg_pool2d_forward / backward: mean over the window clipped to the padded input; the
//   divisor counts padding taps when count_include_pad, else only the taps in the input.
// Outputs are overwritten. Planes run in parallel (OpenMP).
#pragma once

#include <cstdint>

namespace dlx {

struct Pool2dParams {
  int64_t planes = 0;  // N * C
  int64_t h_in = 0, w_in = 0, h_out = 0, w_out = 0;
  int64_t kernel_h = 1, kernel_w = 1;
  int64_t stride_h = 1, stride_w = 1;
  int64_t pad_h = 0, pad_w = 0;
  int64_t dilation_h = 1, dilation_w = 1;  // max pooling only
  bool count_include_pad = true;           // avg pooling only
};

template <typename T>
void max_pool2d_forward(const T* x, T* y, int64_t* indices, const Pool2dParams& p);

template <typename T>
int64_t max_pool2d_backward(const T* gy, const int64_t* indices, T* gx, const Pool2dParams& p);

template <typename T>
void avg_pool2d_forward(const T* x, T* y, const Pool2dParams& p);

template <typename T>
void avg_pool2d_backward(const T* gy, T* gx, const Pool2dParams& p);

}  // namespace dlx
