// Implicit im2col for float32 stride-1 convolutions whose output plane has the input's size
// ('same' padding): the GEMM packs its panels of the column matrix straight from the image,
// so the column matrix is never written out (csrc/sgemm.h, SgemmBSource). Built only when
// dlx's own AVX-512 GEMM is.
#pragma once

#include <cstdint>
#include <vector>

#include "sgemm.h"

namespace dlx {

// Column matrix of one image: row p = (ci, i, j) in im2col order, column l = oh * w + ow,
// value img[ci, oh + i * dil_h - pad_h, ow + j * dil_w - pad_w], 0 outside the plane.
// transposed = false: op(B) is that (c * kh * kw, h * w) matrix (forward, input gradient);
// transposed = true: op(B) is its transpose (weight gradient).
//
// images > 1 puts that many images side by side (image b at img + b * image_stride): column
// j is position j % (h * w) of image j / (h * w). Small planes (7x7) then fill the GEMM's
// 32-column panels. Needs h * w >= 16 and kh * kw <= 64 (pack_rows and the channels-last
// columns only; pack_cols takes one image).
struct ConvCols {
  const float* img;
  int64_t c, h, w;
  int64_t kh, kw, dil_h, dil_w, pad_h, pad_w;
  int64_t images = 1;
  int64_t image_stride = 0;
};

class ImplicitCols final : public SgemmBSource {
 public:
  ImplicitCols(const ConvCols& g, bool transposed) : g_(g), transposed_(transposed) {}
  void pack(int64_t p0, int64_t kc, int64_t j0, int64_t nj, float* dst) const override;

 private:
  void pack_rows(int64_t p0, int64_t kc, int64_t l0, int64_t nl, float* dst) const;
  void pack_cols(int64_t l0, int64_t kc, int64_t p0, int64_t np, float* dst) const;
  ConvCols g_;
  bool transposed_;
};

// The weight gradient's columns with the taps outermost, read from the image in
// channels-last order: op(B)[l, (tap, ci)] = xt[(l + tap offset) * c + ci] (0 outside the
// plane), so a packed row is two runs of 16 consecutive channels (needs c % 16 == 0).
// Multiplying gy_b[o, l] by it gives the weight gradient in (o, kh, kw, c) order.
// With g.images > 1 the channels-last images lie one after another in xt (h * w * c each).
class ChannelsLastTapCols final : public SgemmBSource {
 public:
  ChannelsLastTapCols(const ConvCols& g, const float* xt) : g_(g), xt_(xt) {}
  void pack(int64_t p0, int64_t kc, int64_t j0, int64_t nj, float* dst) const override;

 private:
  ConvCols g_;
  const float* xt_;
};

// Convolution rows without a GEMM for at most 16 output rows (channels): for every group
// of 16 positions, 16 accumulators run over all k = c * kh * kw taps, loading each tap's
// 16 positions straight from the image. For few rows this beats the packed GEMM, whose
// panels would be packed for two 8-row tiles only. One image (g.images == 1).
//   a16: (k, 16) the weights transposed and zero-padded to 16 rows (pack_rows16)
//   c:   rows [0, m) of (m, h * w), row stride ldc; c = a @ cols + beta * c
void conv_rows_direct(const float* a16, int64_t m, const ConvCols& g, float* c, int64_t ldc,
                      float beta);
// a16[p * 16 + i] = a[i * k + p] for i < m (m <= 16), 0 for m <= i < 16.
std::vector<float> pack_rows16(const float* a, int64_t m, int64_t k);

// xt[l, ci] = x[ci, l] for an image of c channels and hw positions.
void to_channels_last(const float* x, int64_t c, int64_t hw, float* xt);

}  // namespace dlx
