// Implicit im2col for float32 convolutions of any stride, padding and dilation: the GEMM packs
// its panels of the column matrix straight from the image, so the column matrix is never
// written out (csrc/sgemm.h, SgemmBSource). Stride-1 'same' geometry (output plane = input
// plane) reads each panel row with contiguous masked loads; every other geometry gathers
// (one masked vector gather per panel row half, indices computed once per panel). The packers are
// per ISA level (ConvImplicitKernels: conv_implicit_avx512.cpp, conv_implicit_avx2.cpp) and
// write the panel width of the same level's GEMM; the classes here are generic.
#pragma once

#include <cstdint>
#include <vector>

#include "dispatch.h"
#include "sgemm.h"

namespace dlx {

// Column matrix of one image: row p = (ci, i, j) in im2col order, column l = oh * w_out + ow
// over the h_out x w_out output plane, value
// img[ci, oh * stride_h + i * dil_h - pad_h, ow * stride_w + j * dil_w - pad_w], 0 outside
// the h x w plane. pad_h / pad_w may be negative (the input gradient's columns).
// transposed = false: op(B) is that (c * kh * kw, h * w) matrix (forward, input gradient);
// transposed = true: op(B) is its transpose (weight gradient).
//
// images > 1 puts that many images side by side (image b at img + b * image_stride): column
// j is position j % (h_out * w_out) of image j / (h_out * w_out). Small planes (7x7) then
// fill the GEMM's panels. Needs kh * kw <= 64 (pack_rows and the channels-last columns
// only; pack_cols takes one image). Element offsets from img (images included) must fit in
// int32 (the gathers' indices; conv_detail::implicit_fits checks it).
struct ConvCols {
  const float* img;
  int64_t c, h, w;
  int64_t kh, kw, dil_h, dil_w, pad_h, pad_w;
  int64_t images = 1;
  int64_t image_stride = 0;
  int64_t stride_h = 1, stride_w = 1;
  int64_t h_out = 0, w_out = 0;  // the output plane (input_cols / grad_output_cols set it)
  // Output plane = input plane at stride 1: every panel row is contiguous in the image
  // (with several images, when a plane fills a 16-lane half).
  bool contiguous() const {
    return stride_h == 1 && stride_w == 1 && h_out == h && w_out == w && (images == 1 || h * w >= 16);
  }
};

// What one ISA level provides (see the classes below for the layouts; panels are nr wide).
struct ConvImplicitKernels {
  int nr;  // panel width written, the same level's SgemmKernels::nr
  // op(B) rows p0.. (taps), columns j0 .. j0 + nj (positions) of the column matrix.
  void (*pack_rows)(const ConvCols& g, int64_t p0, int64_t kc, int64_t j0, int64_t nj, float* dst);
  // Its transpose: rows l0.. (positions, one image), columns p0 .. p0 + np (taps).
  void (*pack_cols)(const ConvCols& g, int64_t l0, int64_t kc, int64_t p0, int64_t np, float* dst);
  // ChannelsLastTapCols::pack.
  void (*pack_taps_channels_last)(const ConvCols& g, const float* xt, int64_t l0, int64_t kc,
                                  int64_t j0, int64_t nj, float* dst);
  void (*rows_direct)(const float* a16, int64_t m, const ConvCols& g, float* c, int64_t ldc,
                      float beta);
  void (*to_channels_last)(const float* x, int64_t c, int64_t hw, float* xt);
};
extern KernelFamily<ConvImplicitKernels> conv_implicit_kernels;

// True when the active level has these kernels, for the panels of the active GEMM.
bool conv_implicit_available();

class ImplicitCols final : public SgemmBSource {
 public:
  ImplicitCols(const ConvCols& g, bool transposed) : g_(g), transposed_(transposed) {}
  void pack(int64_t p0, int64_t kc, int64_t j0, int64_t nj, float* dst) const override;

 private:
  ConvCols g_;
  bool transposed_;
};

// The weight gradient's columns with the taps outermost, read from the image in
// channels-last order: op(B)[l, (tap, ci)] = xt[(l + tap offset) * c + ci] (0 outside the
// plane), so a packed row is runs of consecutive channels (needs c % 16 == 0).
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
// of positions, one accumulator per row runs over all k = c * kh * kw taps, loading each
// tap's positions straight from the image. For few rows this beats the packed GEMM, whose
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
