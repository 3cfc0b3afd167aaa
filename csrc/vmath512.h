// 16-lane float32 exp / sigmoid / tanh for AVX-512 kernels that hand-vectorise a loop (the
// LSTM cell). exp and sigmoid: same polynomial and accuracy as vexp / vsigmoid in vmath.h (a
// few ulp); the 2^n scaling is one vscalefps and the division is rcp14 plus a Newton step
// (relative error ~2^-28 before rounding). tanh: a rational approximation (see below).
// Include only under #if defined(__AVX512F__).
#pragma once

#include <immintrin.h>

namespace dlx::v512 {

// exp(x) for x <= 0 (callers pass -|x|): underflows to 0 below about -104; NaN stays NaN.
inline __m512 exp_nonpos(__m512 x) {
  x = _mm512_max_ps(x, _mm512_set1_ps(-104.0f));  // max keeps the NaN of its second operand
  const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);  // Cody-Waite ln 2 split
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
  __m512 p = _mm512_set1_ps(1.9875691500e-4f);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
  p = _mm512_fmadd_ps(_mm512_mul_ps(p, r), r, _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
  return _mm512_scalef_ps(p, n);
}

// 1 / d for d in [1, 2].
inline __m512 recip_1_2(__m512 d) {
  const __m512 r = _mm512_rcp14_ps(d);
  return _mm512_mul_ps(r, _mm512_fnmadd_ps(d, r, _mm512_set1_ps(2.0f)));
}

inline __m512 abs(__m512 x) {
  return _mm512_castsi512_ps(
      _mm512_and_si512(_mm512_castps_si512(x), _mm512_set1_epi32(0x7FFFFFFF)));
}

// 1 / (1 + exp(-x)) with exp taken of -|x| only.
inline __m512 sigmoid(__m512 x) {
  const __m512 e = exp_nonpos(_mm512_sub_ps(_mm512_setzero_ps(), abs(x)));
  const __m512 r = recip_1_2(_mm512_add_ps(_mm512_set1_ps(1.0f), e));
  const __mmask16 neg = _mm512_cmp_ps_mask(x, _mm512_setzero_ps(), _CMP_LT_OQ);
  return _mm512_mask_mul_ps(r, neg, e, r);  // x < 0: e / (1 + e)
}

// tanh(x) = x P(x^2) / Q(x^2) on [-9, 9] (degree 4 over 4, fitted for relative error; at
// |x| >= 9, tanh rounds to +-1 in float), about half the work of the exp-based form. The
// quotient is one rcp14 refined by a residual step. A sweep of every third float in
// [-11, 11] against double tanh found at most 5.5 ulp (3.6 below |x| = 2); the result is
// clamped to [-1, 1]; NaN stays NaN (min/max return their second operand).
inline __m512 tanh(__m512 x) {
  const __m512 one = _mm512_set1_ps(1.0f);
  const __m512 xc = _mm512_max_ps(_mm512_set1_ps(-9.0f), _mm512_min_ps(_mm512_set1_ps(9.0f), x));
  const __m512 s = _mm512_mul_ps(xc, xc);
  __m512 p = _mm512_set1_ps(1.335352362e-08f);
  p = _mm512_fmadd_ps(p, s, _mm512_set1_ps(2.060820771e-05f));
  p = _mm512_fmadd_ps(p, s, _mm512_set1_ps(3.495532786e-03f));
  p = _mm512_fmadd_ps(p, s, _mm512_set1_ps(1.338097900e-01f));
  p = _mm512_fmadd_ps(p, s, one);
  __m512 q = _mm512_set1_ps(7.776076814e-07f);
  q = _mm512_fmadd_ps(q, s, _mm512_set1_ps(3.285545972e-04f));
  q = _mm512_fmadd_ps(q, s, _mm512_set1_ps(2.587676980e-02f));
  q = _mm512_fmadd_ps(q, s, _mm512_set1_ps(4.671429396e-01f));
  q = _mm512_fmadd_ps(q, s, one);
  const __m512 r = _mm512_rcp14_ps(q);  // relative error < 2^-14
  const __m512 xp = _mm512_mul_ps(xc, p);
  const __m512 t = _mm512_mul_ps(xp, r);
  const __m512 y =
      _mm512_fmadd_ps(_mm512_fnmadd_ps(t, q, xp), r, t);  // error ~2^-28 before rounding
  return _mm512_max_ps(_mm512_set1_ps(-1.0f), _mm512_min_ps(one, y));
}

}  // namespace dlx::v512
