// Generic side of the implicit im2col (conv_implicit.h): the column sources hand the GEMM's
// packing requests to the active level's kernels.
#include "conv_implicit.h"

namespace dlx {

KernelFamily<ConvImplicitKernels> conv_implicit_kernels{"conv_implicit"};

bool conv_implicit_available() {
  const ConvImplicitKernels* k = conv_implicit_kernels.get();
  const SgemmKernels* g = sgemm_kernels.get();
  return k != nullptr && g != nullptr && k->nr == g->nr;
}

void ImplicitCols::pack(int64_t p0, int64_t kc, int64_t j0, int64_t nj, float* dst) const {
  const ConvImplicitKernels& k = *conv_implicit_kernels.get();
  if (transposed_)
    k.pack_cols(g_, p0, kc, j0, nj, dst);
  else
    k.pack_rows(g_, p0, kc, j0, nj, dst);
}

void ChannelsLastTapCols::pack(int64_t l0, int64_t kc, int64_t j0, int64_t nj, float* dst) const {
  conv_implicit_kernels.get()->pack_taps_channels_last(g_, xt_, l0, kc, j0, nj, dst);
}

std::vector<float> pack_rows16(const float* a, int64_t m, int64_t k) {
  std::vector<float> out(static_cast<size_t>(k * 16), 0.0f);
  for (int64_t i = 0; i < m; ++i)
    for (int64_t p = 0; p < k; ++p) out[p * 16 + i] = a[i * k + p];
  return out;
}

void conv_rows_direct(const float* a16, int64_t m, const ConvCols& g, float* c, int64_t ldc,
                      float beta) {
  conv_implicit_kernels.get()->rows_direct(a16, m, g, c, ldc, beta);
}

void to_channels_last(const float* x, int64_t c, int64_t hw, float* xt) {
  conv_implicit_kernels.get()->to_channels_last(x, c, hw, xt);
}

}  // namespace dlx
