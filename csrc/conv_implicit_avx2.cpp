// AVX2 level of the implicit im2col (conv_implicit.h): 16-column panels as two 8-lane halves
// of masked loads (vmaskmovps never reads a masked-off lane) or, for strided / non-'same'
// geometry, of masked gathers (vgatherdps, which never reads a masked-off lane either), the
// direct rows and the channels-last transpose. Same structure as conv_implicit_avx512.cpp.
#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <limits>

#include "avx2_util.h"
#include "conv_implicit.h"
#include "conv_implicit_taps.h"

namespace dlx::DLX_ISA_NS {
namespace {

using avx2::load_first;
using avx2::store_first;
using avx2::transpose8;
using conv_taps::at;
using conv_taps::Tap;
using conv_taps::tap_of;

constexpr int kNR = 16;

// Row and column of output positions l0 .. l0 + 7 (positions past `count` get a row no
// offset can bring inside the plane, so their lanes always load 0).
struct Lanes {
  __m256i oh, ow;
  Lanes(int64_t l0, int64_t count, int64_t w) {
    alignas(32) int32_t hs[8], ws[8];
    for (int64_t t = 0; t < 8; ++t) {
      const int64_t l = l0 + t;
      hs[t] = t < count ? static_cast<int32_t>(l / w) : std::numeric_limits<int32_t>::min() / 2;
      ws[t] = t < count ? static_cast<int32_t>(l % w) : 0;
    }
    oh = _mm256_load_si256(reinterpret_cast<const __m256i*>(hs));
    ow = _mm256_load_si256(reinterpret_cast<const __m256i*>(ws));
  }
  // All-ones in the lanes whose tap (oh + off_h, ow + off_w) lies inside an h x w plane.
  __m256i inside(int32_t off_h, int32_t off_w, const __m256i& h, const __m256i& w) const {
    const __m256i r = _mm256_add_epi32(oh, _mm256_set1_epi32(off_h));
    const __m256i c = _mm256_add_epi32(ow, _mm256_set1_epi32(off_w));
    const __m256i minus1 = _mm256_set1_epi32(-1);
    const __m256i rows = _mm256_and_si256(_mm256_cmpgt_epi32(r, minus1), _mm256_cmpgt_epi32(h, r));
    const __m256i cols = _mm256_and_si256(_mm256_cmpgt_epi32(c, minus1), _mm256_cmpgt_epi32(w, c));
    return _mm256_and_si256(rows, cols);
  }
};

// Columns j0 .. j0 + 7 of any geometry (several images possible), for the gathers: the
// input coordinates of the tap offset (0, 0) and their element offset from g.img (images
// included). Columns past `count` get a row no offset can bring inside the plane.
struct Gather {
  __m256i ih, iw, base;
  Gather(const ConvCols& g, int64_t j0, int64_t count) {
    alignas(32) int32_t hs[8], ws[8], bs[8];
    const int64_t lo = g.h_out * g.w_out;
    for (int64_t t = 0; t < 8; ++t) {
      const int64_t j = j0 + t, img = j / lo, l = j % lo;
      const int64_t r = (l / g.w_out) * g.stride_h, c = (l % g.w_out) * g.stride_w;
      hs[t] = t < count ? static_cast<int32_t>(r) : std::numeric_limits<int32_t>::min() / 2;
      ws[t] = t < count ? static_cast<int32_t>(c) : 0;
      bs[t] = t < count ? static_cast<int32_t>(img * g.image_stride + r * g.w + c) : 0;
    }
    ih = _mm256_load_si256(reinterpret_cast<const __m256i*>(hs));
    iw = _mm256_load_si256(reinterpret_cast<const __m256i*>(ws));
    base = _mm256_load_si256(reinterpret_cast<const __m256i*>(bs));
  }
  __m256i inside(int32_t off_h, int32_t off_w, const __m256i& h, const __m256i& w) const {
    const __m256i r = _mm256_add_epi32(ih, _mm256_set1_epi32(off_h));
    const __m256i c = _mm256_add_epi32(iw, _mm256_set1_epi32(off_w));
    const __m256i minus1 = _mm256_set1_epi32(-1);
    const __m256i rows = _mm256_and_si256(_mm256_cmpgt_epi32(r, minus1), _mm256_cmpgt_epi32(h, r));
    const __m256i cols = _mm256_and_si256(_mm256_cmpgt_epi32(c, minus1), _mm256_cmpgt_epi32(w, c));
    return _mm256_and_si256(rows, cols);
  }
  __m256i index(std::ptrdiff_t off) const {
    return _mm256_add_epi32(base, _mm256_set1_epi32(static_cast<int32_t>(off)));
  }
};

inline __m256 gather(const float* plane, __m256i idx, __m256i m) {
  return _mm256_mask_i32gather_ps(_mm256_setzero_ps(), plane, idx, _mm256_castsi256_ps(m), 4);
}

inline std::ptrdiff_t tap_offset(const Tap& t, int64_t w) {
  return static_cast<std::ptrdiff_t>(t.off_h) * w + t.off_w;
}

inline __m256 load_taps(const Tap& t, int64_t l0, int64_t w, __m256i m) {
  const std::ptrdiff_t off = l0 + static_cast<std::ptrdiff_t>(t.off_h) * w + t.off_w;
  return _mm256_maskload_ps(at(t.plane, off), m);
}

// Masks and offsets of every kernel tap (i, j) for one group of 8 positions.
struct TapTable {
  static constexpr int kMax = conv_taps::kMaxTableTaps;  // larger kernels: on the fly
  __m256i mask[kMax];
  std::ptrdiff_t off[kMax];
};

// op(B) rows p0.. (taps), columns j0 .. j0 + nj (positions, possibly of two images): each
// packed row is two 8-lane halves, each one masked load per image it touches (the lanes of
// the two loads are disjoint and zero elsewhere, so an OR merges them).
// Any geometry: one gather per half row, with the indices and masks of every tap computed
// once per panel (on the fly for kernels of more than 64 taps).
void pack_rows_gather(const ConvCols& g, int64_t p0, int64_t kc, int64_t j0, int64_t nj,
                      float* dst) {
  const __m256i vh = _mm256_set1_epi32(static_cast<int32_t>(g.h));
  const __m256i vw = _mm256_set1_epi32(static_cast<int32_t>(g.w));
  const int64_t taps = g.kh * g.kw, hw = g.h * g.w;
  const Gather half[2] = {Gather(g, j0, nj), Gather(g, j0 + 8, nj - 8)};
  if (taps > TapTable::kMax) {
    for (int64_t r = 0; r < kc; ++r, dst += kNR) {
      const Tap t = tap_of(g, p0 + r);
      for (int k = 0; k < 2; ++k)
        _mm256_store_ps(dst + 8 * k, gather(t.plane, half[k].index(tap_offset(t, g.w)),
                                            half[k].inside(t.off_h, t.off_w, vh, vw)));
    }
    return;
  }
  __m256i idx[2][TapTable::kMax], mask[2][TapTable::kMax];
  for (int64_t q = 0; q < taps; ++q) {
    const Tap t = tap_of(g, q);  // channel 0: only the offsets matter
    for (int k = 0; k < 2; ++k) {
      idx[k][q] = half[k].index(tap_offset(t, g.w));
      mask[k][q] = half[k].inside(t.off_h, t.off_w, vh, vw);
    }
  }
  int64_t ci = p0 / taps, q = p0 % taps;
  const float* plane = g.img + ci * hw;
  for (int64_t r = 0; r < kc; ++r, dst += kNR) {
    _mm256_store_ps(dst, gather(plane, idx[0][q], mask[0][q]));
    _mm256_store_ps(dst + 8, gather(plane, idx[1][q], mask[1][q]));
    if (++q == taps) {
      q = 0;
      plane += hw;
    }
  }
}

void pack_rows(const ConvCols& g, int64_t p0, int64_t kc, int64_t j0, int64_t nj, float* dst) {
  if (!g.contiguous()) {
    pack_rows_gather(g, p0, kc, j0, nj, dst);
    return;
  }
  const __m256i vh = _mm256_set1_epi32(static_cast<int32_t>(g.h));
  const __m256i vw = _mm256_set1_epi32(static_cast<int32_t>(g.w));
  const int64_t taps = g.kh * g.kw, hw = g.h * g.w;
  if (taps > TapTable::kMax) {  // one image (ConvCols' contract)
    const Lanes lo(j0, nj, g.w), hi(j0 + 8, nj - 8, g.w);
    for (int64_t r = 0; r < kc; ++r, dst += kNR) {
      const Tap t = tap_of(g, p0 + r);
      _mm256_store_ps(dst, load_taps(t, j0, g.w, lo.inside(t.off_h, t.off_w, vh, vw)));
      _mm256_store_ps(dst + 8, load_taps(t, j0 + 8, g.w, hi.inside(t.off_h, t.off_w, vh, vw)));
    }
    return;
  }
  // Per half: lanes [0, split) read image b, lanes [split, n) image b + 1 (h * w >= 16, so
  // a half touches at most two images). Offsets are from g.img to lane 0's element.
  TapTable a[2], b[2];
  bool two[2];
  for (int k = 0; k < 2; ++k) {
    const int64_t j = j0 + 8 * k, n = std::clamp<int64_t>(nj - 8 * k, 0, 8);
    const int64_t img = j / hw, l = j % hw, split = std::min<int64_t>(n, hw - l);
    const Lanes first(l, split, g.w), second(l - hw, n, g.w);  // lanes < split read 0 below
    const __m256i seg_a = avx2::lane_mask(split);
    const __m256i seg_b = _mm256_andnot_si256(seg_a, avx2::lane_mask(n));
    two[k] = !_mm256_testz_si256(seg_b, seg_b);
    for (int64_t q = 0; q < taps; ++q) {
      const Tap t = tap_of(g, q);  // channel 0: only the offsets matter
      const std::ptrdiff_t off = static_cast<std::ptrdiff_t>(t.off_h) * g.w + t.off_w;
      a[k].mask[q] = _mm256_and_si256(first.inside(t.off_h, t.off_w, vh, vw), seg_a);
      a[k].off[q] = img * g.image_stride + l + off;
      b[k].mask[q] = _mm256_and_si256(second.inside(t.off_h, t.off_w, vh, vw), seg_b);
      b[k].off[q] = (img + 1) * g.image_stride + (l - hw) + off;
    }
  }
  int64_t ci = p0 / taps, q = p0 % taps;
  const float* plane = g.img + ci * hw;
  for (int64_t r = 0; r < kc; ++r, dst += kNR) {
    for (int k = 0; k < 2; ++k) {
      __m256 v = _mm256_maskload_ps(at(plane, a[k].off[q]), a[k].mask[q]);
      if (two[k]) v = _mm256_or_ps(v, _mm256_maskload_ps(at(plane, b[k].off[q]), b[k].mask[q]));
      _mm256_store_ps(dst + 8 * k, v);
    }
    if (++q == taps) {
      q = 0;
      plane += hw;
    }
  }
}

// op(B) = columns^T: rows l0 .. l0 + kc (positions), columns p0 .. p0 + np (taps). Loads
// 8 positions of 8 taps (loaded, or gathered for other geometry), transposes them in
// registers.
void pack_cols(const ConvCols& g, int64_t l0, int64_t kc, int64_t p0, int64_t np, float* dst) {
  const __m256i vh = _mm256_set1_epi32(static_cast<int32_t>(g.h));
  const __m256i vw = _mm256_set1_epi32(static_cast<int32_t>(g.w));
  const bool contiguous = g.contiguous();
  Tap taps[kNR];
  for (int64_t q = 0; q < np; ++q) taps[q] = tap_of(g, p0 + q);
  for (int64_t lb = 0; lb < kc; lb += 8) {
    const int64_t nl = std::min<int64_t>(8, kc - lb);
    const Lanes lanes(l0 + lb, nl, g.w);
    const Gather cols(g, l0 + lb, nl);
    for (int64_t jb = 0; jb < kNR; jb += 8) {
      __m256 r[8];
      for (int64_t t = 0; t < 8; ++t) {
        const int64_t q = jb + t;
        if (q >= np)
          r[t] = _mm256_setzero_ps();
        else if (contiguous)
          r[t] = load_taps(taps[q], l0 + lb, g.w,
                           lanes.inside(taps[q].off_h, taps[q].off_w, vh, vw));
        else
          r[t] = gather(taps[q].plane, cols.index(tap_offset(taps[q], g.w)),
                        cols.inside(taps[q].off_h, taps[q].off_w, vh, vw));
      }
      transpose8(r);
      for (int64_t t = 0; t < nl; ++t) _mm256_store_ps(dst + (lb + t) * kNR + jb, r[t]);
    }
  }
}

void pack_taps_channels_last(const ConvCols& g, const float* xt, int64_t l0, int64_t kc, int64_t j0,
                             int64_t nj, float* dst) {
  const int64_t c = g.c, h = g.h, w = g.w, hw = h * w;
  // The panel is one tap and 16 consecutive channels (c % 16 == 0 and j0 % 16 == 0).
  const int64_t tap = j0 / c, ci = j0 % c, i = tap / g.kw, j = tap % g.kw;
  const int32_t off_h = static_cast<int32_t>(i * g.dil_h - g.pad_h);
  const int32_t off_w = static_cast<int32_t>(j * g.dil_w - g.pad_w);
  const std::ptrdiff_t off = (static_cast<std::ptrdiff_t>(off_h) * w + off_w) * c + ci;
  const int64_t n0 = std::min<int64_t>(nj, 8), n1 = std::max<int64_t>(nj - 8, 0);
  // Rows are output positions, image after image: (l0 / lo, l0 % lo) onwards; position
  // (oh, ow) reads input (oh * stride_h, ow * stride_w) + the tap's offset.
  const int64_t lo = g.h_out * g.w_out;
  int64_t oh = (l0 % lo) / g.w_out, ow = (l0 % lo) % g.w_out;
  const float* image = xt + (l0 / lo) * hw * c;
  for (int64_t r = 0; r < kc; ++r, dst += kNR) {
    const int64_t ih = oh * g.stride_h, iw = ow * g.stride_w;
    const float* row = image + (ih * w + iw) * c + off;
    const bool inside = static_cast<uint64_t>(ih + off_h) < static_cast<uint64_t>(h) &&
                        static_cast<uint64_t>(iw + off_w) < static_cast<uint64_t>(w);
    _mm256_store_ps(dst, inside ? load_first(row, n0) : _mm256_setzero_ps());
    _mm256_store_ps(dst + 8, inside && n1 > 0 ? load_first(row + 8, n1) : _mm256_setzero_ps());
    if (++ow == g.w_out) {
      ow = 0;
      if (++oh == g.h_out) {
        oh = 0;
        image += hw * c;
      }
    }
  }
}

// Up to 8 output rows (rows0 .. rows0 + R - 1 of a16's 16) for one group of 8 positions;
// kGather: idx[q] are the gathers' indices from the plane, else off[q] the masked loads'
// offsets from the plane + l0.
template <int R, bool kGather>
void rows_group(const float* a16, int64_t rows0, int64_t m, const ConvCols& g, int64_t taps,
                const __m256i* mask, const std::ptrdiff_t* off, const __m256i* idx, int64_t l0,
                int64_t nl, float* c, int64_t ldc, float beta) {
  const int64_t hw = g.h * g.w;
  __m256 acc[R];
#pragma GCC unroll 8
  for (int i = 0; i < R; ++i) acc[i] = _mm256_setzero_ps();
  const float* a = a16 + rows0;
  const float* image = kGather ? g.img : g.img + l0;
  for (int64_t ci = 0; ci < g.c; ++ci) {
    const float* plane = image + ci * hw;
    for (int64_t q = 0; q < taps; ++q, a += 16) {
      const __m256 b =
          kGather ? gather(plane, idx[q], mask[q]) : _mm256_maskload_ps(at(plane, off[q]), mask[q]);
#pragma GCC unroll 8
      for (int i = 0; i < R; ++i) acc[i] = _mm256_fmadd_ps(_mm256_broadcast_ss(a + i), b, acc[i]);
    }
  }
  const __m256 vbeta = _mm256_set1_ps(beta);
  // Constant indices only, so that acc stays in registers.
#pragma GCC unroll 8
  for (int i = 0; i < R; ++i) {
    if (rows0 + i >= m) break;
    float* row = c + (rows0 + i) * ldc + l0;
    __m256 r = acc[i];
    if (beta != 0.0f) r = _mm256_fmadd_ps(vbeta, load_first(row, nl), r);
    store_first(row, r, nl);
  }
}

void rows_direct(const float* a16, int64_t m, const ConvCols& g, float* c, int64_t ldc,
                 float beta) {
  const __m256i vh = _mm256_set1_epi32(static_cast<int32_t>(g.h));
  const __m256i vw = _mm256_set1_epi32(static_cast<int32_t>(g.w));
  const int64_t taps = g.kh * g.kw;
  int32_t off_h[TapTable::kMax], off_w[TapTable::kMax];
  std::ptrdiff_t off[TapTable::kMax];
  for (int64_t q = 0; q < taps; ++q) {
    const Tap t = tap_of(g, q);
    off_h[q] = t.off_h;
    off_w[q] = t.off_w;
    off[q] = static_cast<std::ptrdiff_t>(t.off_h) * g.w + t.off_w;
  }
  const bool contiguous = g.contiguous();
  const int64_t lo = g.h_out * g.w_out;
  __m256i mask[TapTable::kMax], idx[TapTable::kMax];  // idx: gathers only
  for (int64_t l0 = 0; l0 < lo; l0 += 8) {
    const int64_t nl = std::min<int64_t>(8, lo - l0);
    if (contiguous) {
      const Lanes lanes(l0, nl, g.w);
      for (int64_t q = 0; q < taps; ++q) mask[q] = lanes.inside(off_h[q], off_w[q], vh, vw);
    } else {
      const Gather cols(g, l0, nl);
      for (int64_t q = 0; q < taps; ++q) {
        mask[q] = cols.inside(off_h[q], off_w[q], vh, vw);
        idx[q] = cols.index(off[q]);
      }
    }
    // Eight accumulators per pass (16 ymm registers in all): rows 0-7, then 8-15.
    for (int64_t r0 = 0; r0 < m; r0 += 8) {
      if (contiguous)
        rows_group<8, false>(a16, r0, m, g, taps, mask, off, idx, l0, nl, c, ldc, beta);
      else
        rows_group<8, true>(a16, r0, m, g, taps, mask, off, idx, l0, nl, c, ldc, beta);
    }
  }
}

void to_channels_last(const float* x, int64_t c, int64_t hw, float* xt) {
  for (int64_t c0 = 0; c0 < c; c0 += 8) {
    const int64_t nc = std::min<int64_t>(8, c - c0);
    for (int64_t l0 = 0; l0 < hw; l0 += 8) {
      const int64_t nl = std::min<int64_t>(8, hw - l0);
      __m256 r[8];
      for (int64_t i = 0; i < 8; ++i)
        r[i] = i < nc ? load_first(x + (c0 + i) * hw + l0, nl) : _mm256_setzero_ps();
      transpose8(r);
      for (int64_t t = 0; t < nl; ++t) store_first(xt + (l0 + t) * c + c0, r[t], nc);
    }
  }
}

const ConvImplicitKernels kConv = {
    kNR, &pack_rows, &pack_cols, &pack_taps_channels_last, &rows_direct, &to_channels_last};

}  // namespace

DLX_PROVIDE_KERNELS(conv_implicit_kernels, kConv)

}  // namespace dlx::DLX_ISA_NS
