// float32 exp / sigmoid / tanh on whole registers, written once for any level's vector type
// (simd::Avx512, simd::Avx2) and used by kernels that vectorise a loop by hand (the LSTM and
// GRU cells). exp and sigmoid: the polynomial and accuracy of vexp / vsigmoid in vmath.h (a
// few ulp), the 2^n scaling is V::scale2 and the division V::recip. tanh: a rational
// approximation (below). Include only in level code, after the level's simd_*.h.
#pragma once

namespace dlx::simd {

// exp(x) for x <= 0 (callers pass -|x|): underflows to 0 below about -104; NaN stays NaN.
template <class V>
DLX_SIMD_INLINE typename V::F exp_nonpos(typename V::F x) {
  using F = typename V::F;
  x = V::max(x, V::set1(-104.0f));  // max keeps the NaN of its second operand
  const F n = V::round(V::mul(x, V::set1(1.44269504088896341f)));
  F r = V::fnmadd(n, V::set1(0.693359375f), x);  // Cody-Waite ln 2 split
  r = V::fnmadd(n, V::set1(-2.12194440e-4f), r);
  F p = V::set1(1.9875691500e-4f);
  p = V::fmadd(p, r, V::set1(1.3981999507e-3f));
  p = V::fmadd(p, r, V::set1(8.3334519073e-3f));
  p = V::fmadd(p, r, V::set1(4.1665795894e-2f));
  p = V::fmadd(p, r, V::set1(1.6666665459e-1f));
  p = V::fmadd(p, r, V::set1(5.0000001201e-1f));
  p = V::fmadd(V::mul(p, r), r, V::add(r, V::set1(1.0f)));
  return V::scale2(p, n);
}

// 1 / (1 + exp(-x)) with exp taken of -|x| only.
template <class V>
DLX_SIMD_INLINE typename V::F sigmoid(typename V::F x) {
  using F = typename V::F;
  const F e = exp_nonpos<V>(V::sub(V::zero(), V::abs(x)));
  const F r = V::recip(V::add(V::set1(1.0f), e));
  return V::if_negative(x, V::mul(e, r), r);  // x < 0: e / (1 + e)
}

// tanh(x) = x P(x^2) / Q(x^2) on [-9, 9] (degree 4 over 4, fitted for relative error; at
// |x| >= 9, tanh rounds to +-1 in float), about half the work of the exp-based form. The
// quotient is V::rcp_fast refined by a residual step. A sweep of every third float in
// [-11, 11] against double tanh found at most 5.5 ulp (3.6 below |x| = 2) with AVX-512's
// rcp14; the result is clamped to [-1, 1]; NaN stays NaN (min/max return their second
// operand).
template <class V>
DLX_SIMD_INLINE typename V::F tanh(typename V::F x) {
  using F = typename V::F;
  const F one = V::set1(1.0f);
  const F xc = V::max(V::set1(-9.0f), V::min(V::set1(9.0f), x));
  const F s = V::mul(xc, xc);
  F p = V::set1(1.335352362e-08f);
  p = V::fmadd(p, s, V::set1(2.060820771e-05f));
  p = V::fmadd(p, s, V::set1(3.495532786e-03f));
  p = V::fmadd(p, s, V::set1(1.338097900e-01f));
  p = V::fmadd(p, s, one);
  F q = V::set1(7.776076814e-07f);
  q = V::fmadd(q, s, V::set1(3.285545972e-04f));
  q = V::fmadd(q, s, V::set1(2.587676980e-02f));
  q = V::fmadd(q, s, V::set1(4.671429396e-01f));
  q = V::fmadd(q, s, one);
  const F r = V::rcp_fast(q);
  const F xp = V::mul(xc, p);
  const F t = V::mul(xp, r);
  const F y = V::fmadd(V::fnmadd(t, q, xp), r, t);  // one residual step
  return V::max(V::set1(-1.0f), V::min(one, y));
}

}  // namespace dlx::simd
