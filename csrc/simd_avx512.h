// 16-lane float32 operations for the avx512 level's units, with the same interface as
// simd_avx2.h (simd::Avx2), so one kernel template (vmath_simd.h, rnn_cells_levels.cpp) serves
// both levels. Include only in code built for the avx512 level. Forced inline: no out-of-line
// copy of these can end up in generic code.
#pragma once

#include <immintrin.h>

#include <cstdint>

#define DLX_SIMD_INLINE inline __attribute__((always_inline))

namespace dlx::simd {

struct Avx512 {
  using F = __m512;
  static constexpr int kLanes = 16;

  static DLX_SIMD_INLINE __mmask16 first(int64_t n) {
    return n >= 16 ? __mmask16(0xFFFF) : n <= 0 ? __mmask16(0) : __mmask16((1u << n) - 1u);
  }
  // The first n lanes of p (zeros beyond; lanes past n are never read), and the store of
  // the first n lanes.
  static DLX_SIMD_INLINE F load(const float* p, int64_t n) {
    return _mm512_maskz_loadu_ps(first(n), p);
  }
  static DLX_SIMD_INLINE void store(float* p, F v, int64_t n) {
    _mm512_mask_storeu_ps(p, first(n), v);
  }
  static DLX_SIMD_INLINE void prefetch(const float* p) {
    _mm_prefetch(reinterpret_cast<const char*>(p), _MM_HINT_T0);
  }
  static DLX_SIMD_INLINE F set1(float v) { return _mm512_set1_ps(v); }
  static DLX_SIMD_INLINE F zero() { return _mm512_setzero_ps(); }
  static DLX_SIMD_INLINE F add(F a, F b) { return _mm512_add_ps(a, b); }
  static DLX_SIMD_INLINE F sub(F a, F b) { return _mm512_sub_ps(a, b); }
  static DLX_SIMD_INLINE F mul(F a, F b) { return _mm512_mul_ps(a, b); }
  static DLX_SIMD_INLINE F fmadd(F a, F b, F c) { return _mm512_fmadd_ps(a, b, c); }    // a b + c
  static DLX_SIMD_INLINE F fnmadd(F a, F b, F c) { return _mm512_fnmadd_ps(a, b, c); }  // c - a b
  // max / min return b where either is NaN (as maxps / minps).
  static DLX_SIMD_INLINE F max(F a, F b) { return _mm512_max_ps(a, b); }
  static DLX_SIMD_INLINE F min(F a, F b) { return _mm512_min_ps(a, b); }
  static DLX_SIMD_INLINE F abs(F x) {
    return _mm512_castsi512_ps(
        _mm512_and_si512(_mm512_castps_si512(x), _mm512_set1_epi32(0x7FFFFFFF)));
  }
  static DLX_SIMD_INLINE F round(F x) {
    return _mm512_roundscale_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  }
  // p * 2^n for integral n in [-150, 127] (subnormal and infinite results exact).
  static DLX_SIMD_INLINE F scale2(F p, F n) { return _mm512_scalef_ps(p, n); }
  // 1 / d to about 2^-14 (fast) and to about 2^-28 before rounding (recip).
  static DLX_SIMD_INLINE F rcp_fast(F d) { return _mm512_rcp14_ps(d); }
  static DLX_SIMD_INLINE F recip(F d) {
    const F r = _mm512_rcp14_ps(d);
    return _mm512_mul_ps(r, _mm512_fnmadd_ps(d, r, _mm512_set1_ps(2.0f)));
  }
  // x < 0 ? a : b, lane by lane.
  static DLX_SIMD_INLINE F if_negative(F x, F a, F b) {
    return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(x, _mm512_setzero_ps(), _CMP_LT_OQ), b, a);
  }
};

}  // namespace dlx::simd
