// AVX-512 level of the pooling kernels (pool_kernels.h).
#include <immintrin.h>

#include <algorithm>
#include <cstdint>

#include "avx512_util.h"
#include "pool_kernels.h"

namespace dlx::DLX_ISA_NS {
namespace {

using avx512::lane_mask;

// One output row of the 2x2 / stride-2 pool, 16 outputs per step (float32): the two input
// rows are split into even and odd columns, then the four taps are compared in window
// order with the scalar rules. Returns how many outputs it wrote (all of them).
int64_t max_pool_2x2_row(const float* r0, const float* r1, float* y, int64_t* idx, int64_t base,
                         int64_t w_in, int64_t w_out) {
  const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512i odd = _mm512_add_epi32(even, _mm512_set1_epi32(1));
  const __m512i lane2 =
      _mm512_slli_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15), 1);
  const int32_t offs[3] = {1, static_cast<int32_t>(w_in), static_cast<int32_t>(w_in + 1)};
  for (int64_t ow = 0; ow < w_out; ow += 16) {
    const int64_t n = std::min<int64_t>(16, w_out - ow);
    const __mmask16 m = lane_mask(n);
    const __mmask16 m_lo = lane_mask(2 * n), m_hi = lane_mask(2 * n - 16);
    const float* a = r0 + 2 * ow;
    const float* b = r1 + 2 * ow;
    const __m512 a_lo = _mm512_maskz_loadu_ps(m_lo, a), a_hi = _mm512_maskz_loadu_ps(m_hi, a + 16);
    const __m512 b_lo = _mm512_maskz_loadu_ps(m_lo, b), b_hi = _mm512_maskz_loadu_ps(m_hi, b + 16);
    __m512 best = _mm512_permutex2var_ps(a_lo, even, a_hi);
    const __m512 taps[3] = {_mm512_permutex2var_ps(a_lo, odd, a_hi),
                            _mm512_permutex2var_ps(b_lo, even, b_hi),
                            _mm512_permutex2var_ps(b_lo, odd, b_hi)};
    __m512i at = _mm512_setzero_si512();
    for (int t = 0; t < 3; ++t) {
      const __mmask16 take = _mm512_cmp_ps_mask(taps[t], best, _CMP_GT_OQ) |
                             _mm512_cmp_ps_mask(taps[t], taps[t], _CMP_UNORD_Q);
      best = _mm512_mask_blend_ps(take, best, taps[t]);
      at = _mm512_mask_blend_epi32(take, at, _mm512_set1_epi32(offs[t]));
    }
    _mm512_mask_storeu_ps(y + ow, m, best);
    // index = base + 2 * (ow + lane) + tap offset, widened to int64
    at = _mm512_add_epi32(at, lane2);
    const __m512i start = _mm512_set1_epi64(base + 2 * ow);
    const __m512i lo = _mm512_add_epi64(start, _mm512_cvtepi32_epi64(_mm512_castsi512_si256(at)));
    const __m512i hi =
        _mm512_add_epi64(start, _mm512_cvtepi32_epi64(_mm512_extracti64x4_epi64(at, 1)));
    _mm512_mask_storeu_epi64(idx + ow, static_cast<__mmask8>(m), lo);
    _mm512_mask_storeu_epi64(idx + ow + 8, static_cast<__mmask8>(m >> 8), hi);
  }
  return w_out;
}

const PoolKernels kPool = {&max_pool_2x2_row};

}  // namespace

DLX_PROVIDE_KERNELS(pool_kernels, kPool)

}  // namespace dlx::DLX_ISA_NS
