// 8-lane float32 operations for the avx2 level's units, with the interface of
// simd_avx512.h (simd::Avx512). Include only in code built for the avx2 level. Forced
// inline: no out-of-line copy of these can end up in generic code.
#pragma once

#include <immintrin.h>

#include <cstdint>

#include "avx2_util.h"

#define DLX_SIMD_INLINE inline __attribute__((always_inline))

namespace dlx::simd {

struct Avx2 {
  using F = __m256;
  static constexpr int kLanes = 8;

  static DLX_SIMD_INLINE F load(const float* p, int64_t n) { return avx2::load_first(p, n); }
  static DLX_SIMD_INLINE void store(float* p, F v, int64_t n) { avx2::store_first(p, v, n); }
  static DLX_SIMD_INLINE void prefetch(const float* p) {
    _mm_prefetch(reinterpret_cast<const char*>(p), _MM_HINT_T0);
  }
  static DLX_SIMD_INLINE F set1(float v) { return _mm256_set1_ps(v); }
  static DLX_SIMD_INLINE F zero() { return _mm256_setzero_ps(); }
  static DLX_SIMD_INLINE F add(F a, F b) { return _mm256_add_ps(a, b); }
  static DLX_SIMD_INLINE F sub(F a, F b) { return _mm256_sub_ps(a, b); }
  static DLX_SIMD_INLINE F mul(F a, F b) { return _mm256_mul_ps(a, b); }
  static DLX_SIMD_INLINE F fmadd(F a, F b, F c) { return _mm256_fmadd_ps(a, b, c); }
  static DLX_SIMD_INLINE F fnmadd(F a, F b, F c) { return _mm256_fnmadd_ps(a, b, c); }
  static DLX_SIMD_INLINE F max(F a, F b) { return _mm256_max_ps(a, b); }
  static DLX_SIMD_INLINE F min(F a, F b) { return _mm256_min_ps(a, b); }
  static DLX_SIMD_INLINE F abs(F x) {
    return _mm256_castsi256_ps(
        _mm256_and_si256(_mm256_castps_si256(x), _mm256_set1_epi32(0x7FFFFFFF)));
  }
  static DLX_SIMD_INLINE F round(F x) {
    return _mm256_round_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  }
  // p * 2^n for integral n in [-150, 127]: two factors 2^(n/2), each a normal number, so
  // subnormal and infinite results come out as with scalef.
  static DLX_SIMD_INLINE F scale2(F p, F n) {
    const __m256i ni = _mm256_cvtps_epi32(n);
    const __m256i n1 = _mm256_srai_epi32(ni, 1), n2 = _mm256_sub_epi32(ni, n1);
    const __m256i bias = _mm256_set1_epi32(127);
    const F s1 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n1, bias), 23));
    const F s2 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n2, bias), 23));
    return _mm256_mul_ps(_mm256_mul_ps(p, s1), s2);
  }
  // rcpps is good to 1.5 * 2^-12: one Newton step gives about 2^-23 (fast), two about the
  // rounding of float (recip).
  static DLX_SIMD_INLINE F rcp_fast(F d) {
    const F r = _mm256_rcp_ps(d);
    return _mm256_mul_ps(r, _mm256_fnmadd_ps(d, r, _mm256_set1_ps(2.0f)));
  }
  static DLX_SIMD_INLINE F recip(F d) {
    const F r = rcp_fast(d);
    return _mm256_mul_ps(r, _mm256_fnmadd_ps(d, r, _mm256_set1_ps(2.0f)));
  }
  static DLX_SIMD_INLINE F if_negative(F x, F a, F b) {
    return _mm256_blendv_ps(b, a, _mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_LT_OQ));
  }
};

}  // namespace dlx::simd
