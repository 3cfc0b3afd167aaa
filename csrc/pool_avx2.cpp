// AVX2 level of the pooling kernels (pool_kernels.h).
#include <immintrin.h>

#include <cstdint>

#include "pool_kernels.h"

namespace dlx::DLX_ISA_NS {
namespace {

// Even and odd lanes of the 16 floats at p, each as 8 lanes in order.
inline void split_even_odd(const float* p, __m256& even, __m256& odd) {
  const __m256 lo = _mm256_loadu_ps(p), hi = _mm256_loadu_ps(p + 8);
  // shuffle_ps works within 128-bit halves: (lo0 lo2 hi0 hi2 | lo4 lo6 hi4 hi6); a 64-bit
  // lane permute puts the pairs in order.
  even = _mm256_castpd_ps(
      _mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(lo, hi, 0x88)), 0xD8));
  odd = _mm256_castpd_ps(
      _mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(lo, hi, 0xDD)), 0xD8));
}

// One output row of the 2x2 / stride-2 pool, 8 outputs per step (float32), the four taps
// compared in window order with the scalar rules. Whole groups of 8 only; returns how many
// outputs it wrote (the portable loop finishes the row).
int64_t max_pool_2x2_row(const float* r0, const float* r1, float* y, int64_t* idx, int64_t base,
                         int64_t w_in, int64_t w_out) {
  const __m256i lane2 = _mm256_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14);
  const int32_t offs[3] = {1, static_cast<int32_t>(w_in), static_cast<int32_t>(w_in + 1)};
  int64_t ow = 0;
  for (; ow + 8 <= w_out; ow += 8) {
    __m256 taps[4];
    split_even_odd(r0 + 2 * ow, taps[0], taps[1]);
    split_even_odd(r1 + 2 * ow, taps[2], taps[3]);
    __m256 best = taps[0];
    __m256i at = _mm256_setzero_si256();
    for (int t = 0; t < 3; ++t) {
      const __m256 v = taps[t + 1];
      const __m256 take =
          _mm256_or_ps(_mm256_cmp_ps(v, best, _CMP_GT_OQ), _mm256_cmp_ps(v, v, _CMP_UNORD_Q));
      best = _mm256_blendv_ps(best, v, take);
      at = _mm256_blendv_epi8(at, _mm256_set1_epi32(offs[t]), _mm256_castps_si256(take));
    }
    _mm256_storeu_ps(y + ow, best);
    // index = base + 2 * (ow + lane) + tap offset, widened to int64
    at = _mm256_add_epi32(at, lane2);
    const __m256i start = _mm256_set1_epi64x(base + 2 * ow);
    const __m256i lo = _mm256_add_epi64(start, _mm256_cvtepi32_epi64(_mm256_castsi256_si128(at)));
    const __m256i hi =
        _mm256_add_epi64(start, _mm256_cvtepi32_epi64(_mm256_extracti128_si256(at, 1)));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(idx + ow), lo);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(idx + ow + 4), hi);
  }
  return ow;
}

const PoolKernels kPool = {&max_pool_2x2_row};

}  // namespace

DLX_PROVIDE_KERNELS(pool_kernels, kPool)

}  // namespace dlx::DLX_ISA_NS
