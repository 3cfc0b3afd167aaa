// 2-D convolution (PyTorch's nn.Conv2d semantics: cross-correlation, NCHW).
//   x:      (n, c, h, w)                    input
//   weight: (o, c / groups, kh, kw)         output channel oc belongs to group oc / (o / groups)
//   bias:   (o) or nullptr
//   y:      (n, o, h_out, w_out)            h_out / w_out from Window2d (im2col.h)
// Per image and group g, with col = im2col(x[b]) (rows of group g form one block):
//   forward      y[b, g]  = W_g @ col_g + bias        W_g: (o/groups, c/groups * kh * kw)
//   grad weight  gW_g    += gy[b, g] @ col_g^T         summed over the batch
//   grad input   gx[b]    = col2im(W_g^T @ gy[b, g])   over all groups
//   grad bias    gb[oc]   = sum over b, h_out, w_out of gy[b, oc]
// A 1x1 kernel with stride 1 and no padding skips im2col (col is the input plane).
//
// Outputs are overwritten; in conv2d_backward any of gx / gw / gb may be nullptr to skip
// it. Threads: images are spread over OpenMP threads with BLAS serial inside, each thread
// reusing its own column workspace; with fewer images than threads the images run one by
// one on multi-threaded BLAS. Results do not depend on the thread count: the weight and
// bias gradients are summed in fixed batch chunks whose partial sums are then added in
// order (in double).
#pragma once

#include <cstdint>

#include "im2col.h"

namespace dlx {

struct Conv2dShape {
  int64_t n = 0, c = 0, h = 0, w = 0;  // input
  int64_t o = 0;                       // output channels
  int64_t groups = 1;
  Window2d win;
};

template <typename T>
void conv2d_forward(const T* x, const T* weight, const T* bias, T* y, const Conv2dShape& s);

template <typename T>
void conv2d_backward(const T* gy, const T* x, const T* weight, T* gx, T* gw, T* gb,
                     const Conv2dShape& s);

}  // namespace dlx
