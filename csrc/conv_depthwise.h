// Direct depthwise convolution: one input channel per group (groups == c, c / groups == 1),
// o = groups * m output channels, output channel oc reading input channel oc / m, with any
// kernel size, stride, padding and dilation. No GEMM and no column matrix: each output row
// adds, tap by tap, a weighted run of an input row (contiguous at stride 1), so the level
// kernels (conv_depthwise_levels.cpp, vectorised by the compiler for each ISA level) stream
// rows. Shapes and semantics as conv2d_forward / conv2d_backward (conv.h). Threads: planes
// over OpenMP (forward and input gradient per (image, channel), weight and bias gradients
// per output channel, each summed over the batch in a fixed order in double), so results
// do not depend on the thread count.
#pragma once

#include <cstdint>

#include "conv.h"
#include "dispatch.h"

namespace dlx {

// One plane's geometry: input h x w, output h_out x w_out, the window.
struct DepthwisePlane {
  int64_t h, w, h_out, w_out;
  Window2d win;
};

template <typename T>
struct DepthwiseFns {
  // y (h_out x w_out) = bias + x (h x w) correlated with k (kh x kw).
  void (*forward)(const T* x, const T* k, T bias, T* y, const DepthwisePlane& p);
  // gx (h x w) += the transposed correlation of gy (h_out x w_out) with k.
  void (*input_grad)(const T* gy, const T* k, T* gx, const DepthwisePlane& p);
  // acc[tap] += sum over positions of gy * x at that tap (acc: kh * kw doubles).
  void (*weight_grad)(const T* gy, const T* x, double* acc, const DepthwisePlane& p);
};
using DepthwiseKernels = PerType<DepthwiseFns>;
extern KernelFamily<DepthwiseKernels> conv_depthwise_kernels;

// True when s is a depthwise convolution this path runs (one input channel per group).
inline bool conv_depthwise_supported(const Conv2dShape& s) {
  return s.groups >= 1 && s.c == s.groups;
}

template <typename T>
void conv2d_depthwise_forward(const T* x, const T* weight, const T* bias, T* y,
                              const Conv2dShape& s);

template <typename T>
void conv2d_depthwise_backward(const T* gy, const T* x, const T* weight, T* gx, T* gw, T* gb,
                               const Conv2dShape& s);

}  // namespace dlx
