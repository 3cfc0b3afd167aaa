// Small AVX2 helpers shared by the avx2 level's units (*_avx2.cpp); include nowhere else.
// Everything is forced inline, so no out-of-line copy compiled for AVX2 can be picked up by
// generic code at link time.
#pragma once

#include <immintrin.h>

#include <cstdint>

#define DLX_AVX2_INLINE inline __attribute__((always_inline))

namespace dlx::avx2 {

// Sign bits of the first n of 8 lanes (n clipped to [0, 8]), for maskload / maskstore.
DLX_AVX2_INLINE __m256i lane_mask(int64_t n) {
  alignas(32) static constexpr int32_t kTable[16] = {-1, -1, -1, -1, -1, -1, -1, -1,
                                                     0,  0,  0,  0,  0,  0,  0,  0};
  const int64_t k = n <= 0 ? 0 : n >= 8 ? 8 : n;
  return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(kTable + 8 - k));
}

// The first n lanes of p (n <= 8), zeros elsewhere; lanes past n are never read.
DLX_AVX2_INLINE __m256 load_first(const float* p, int64_t n) {
  return n >= 8 ? _mm256_loadu_ps(p) : _mm256_maskload_ps(p, lane_mask(n));
}
// Stores the first n lanes of v to p (n <= 8); memory past them is not touched.
DLX_AVX2_INLINE void store_first(float* p, __m256 v, int64_t n) {
  if (n >= 8)
    _mm256_storeu_ps(p, v);
  else
    _mm256_maskstore_ps(p, lane_mask(n), v);
}

// 8x8 transpose in registers: r[i] holds row i; afterwards r[i] holds column i.
DLX_AVX2_INLINE void transpose8(__m256 r[8]) {
  __m256 t[8];
  for (int i = 0; i < 4; ++i) {
    t[2 * i] = _mm256_unpacklo_ps(r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm256_unpackhi_ps(r[2 * i], r[2 * i + 1]);
  }
  for (int i = 0; i < 2; ++i) {
    const __m256 a = t[4 * i], b = t[4 * i + 1], c = t[4 * i + 2], d = t[4 * i + 3];
    r[4 * i] = _mm256_shuffle_ps(a, c, 0x44);
    r[4 * i + 1] = _mm256_shuffle_ps(a, c, 0xee);
    r[4 * i + 2] = _mm256_shuffle_ps(b, d, 0x44);
    r[4 * i + 3] = _mm256_shuffle_ps(b, d, 0xee);
  }
  // Each 128-bit half now holds a transposed 4x4 block; swap the halves into place.
  for (int i = 0; i < 4; ++i) {
    t[i] = _mm256_permute2f128_ps(r[i], r[i + 4], 0x20);
    t[i + 4] = _mm256_permute2f128_ps(r[i], r[i + 4], 0x31);
  }
  for (int i = 0; i < 8; ++i) r[i] = t[i];
}

// Sum of the 8 lanes.
DLX_AVX2_INLINE float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

}  // namespace dlx::avx2
