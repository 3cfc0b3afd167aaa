// AVX-512 level of the implicit im2col (conv_implicit.h): 32-column panels as two 16-lane
// halves of masked loads or, for strided / non-'same' geometry, of masked gathers, the direct
// rows and the channels-last transpose. Same structure as conv_implicit_avx2.cpp.
#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <limits>

#include "avx512_util.h"
#include "conv_implicit.h"
#include "conv_implicit_taps.h"

namespace dlx::DLX_ISA_NS {
namespace {

using avx512::lane_mask;
using avx512::transpose16;

// Row and column of output positions l0 .. l0 + 15 (positions past `count` get a row no
// offset can bring inside the plane, so their lanes always load 0).
struct Lanes {
  __m512i oh, ow;
  Lanes(int64_t l0, int64_t count, int64_t w) {
    alignas(64) int32_t hs[16], ws[16];
    for (int64_t t = 0; t < 16; ++t) {
      const int64_t l = l0 + t;
      hs[t] = t < count ? static_cast<int32_t>(l / w) : std::numeric_limits<int32_t>::min() / 2;
      ws[t] = t < count ? static_cast<int32_t>(l % w) : 0;
    }
    oh = _mm512_load_si512(hs);
    ow = _mm512_load_si512(ws);
  }
  // Lanes whose tap (oh + off_h, ow + off_w) lies inside an h x w plane.
  __mmask16 inside(int32_t off_h, int32_t off_w, const __m512i& h, const __m512i& w) const {
    const __m512i r = _mm512_add_epi32(oh, _mm512_set1_epi32(off_h));
    const __m512i c = _mm512_add_epi32(ow, _mm512_set1_epi32(off_w));
    return _mm512_cmplt_epu32_mask(r, h) & _mm512_cmplt_epu32_mask(c, w);
  }
};

using conv_taps::at;
using conv_taps::Tap;
using conv_taps::tap_of;

// Columns j0 .. j0 + 15 of any geometry (several images possible), for the gathers: the
// input coordinates of the tap offset (0, 0) and their element offset from g.img (images
// included). Columns past `count` get a row no offset can bring inside the plane.
struct Gather {
  __m512i ih, iw, base;
  Gather(const ConvCols& g, int64_t j0, int64_t count) {
    alignas(64) int32_t hs[16], ws[16], bs[16];
    const int64_t lo = g.h_out * g.w_out;
    for (int64_t t = 0; t < 16; ++t) {
      const int64_t j = j0 + t, img = j / lo, l = j % lo;
      const int64_t r = (l / g.w_out) * g.stride_h, c = (l % g.w_out) * g.stride_w;
      hs[t] = t < count ? static_cast<int32_t>(r) : std::numeric_limits<int32_t>::min() / 2;
      ws[t] = t < count ? static_cast<int32_t>(c) : 0;
      bs[t] = t < count ? static_cast<int32_t>(img * g.image_stride + r * g.w + c) : 0;
    }
    ih = _mm512_load_si512(hs);
    iw = _mm512_load_si512(ws);
    base = _mm512_load_si512(bs);
  }
  __mmask16 inside(int32_t off_h, int32_t off_w, const __m512i& h, const __m512i& w) const {
    const __m512i r = _mm512_add_epi32(ih, _mm512_set1_epi32(off_h));
    const __m512i c = _mm512_add_epi32(iw, _mm512_set1_epi32(off_w));
    return _mm512_cmplt_epu32_mask(r, h) & _mm512_cmplt_epu32_mask(c, w);
  }
  __m512i index(std::ptrdiff_t off) const {
    return _mm512_add_epi32(base, _mm512_set1_epi32(static_cast<int32_t>(off)));
  }
};

inline __m512 gather(const float* plane, __m512i idx, __mmask16 m) {
  return _mm512_mask_i32gather_ps(_mm512_setzero_ps(), m, idx, plane, 4);
}

inline std::ptrdiff_t tap_offset(const Tap& t, int64_t w) {
  return static_cast<std::ptrdiff_t>(t.off_h) * w + t.off_w;
}

// Lanes masked off are never read: the address may lie outside the plane.
inline __m512 load_taps(const Tap& t, int64_t l0, int64_t w, __mmask16 m) {
  const std::ptrdiff_t off = l0 + static_cast<std::ptrdiff_t>(t.off_h) * w + t.off_w;
  return _mm512_maskz_loadu_ps(m, at(t.plane, off));
}

// Masks and offsets of every kernel tap (i, j) for one group of 16 positions.
struct TapTable {
  static constexpr int kMax = conv_taps::kMaxTableTaps;  // larger kernels: on the fly
  __mmask16 mask[kMax];
  std::ptrdiff_t off[kMax];
};

// op(B) rows p0.. (taps), columns j0 .. j0 + nj (positions, possibly of two images): each
// packed row is two 16-lane halves, each one masked load per image it touches. The tap
// (i, j) and channel advance row by row.
// Any geometry: one gather per half row, with the indices and masks of every tap computed
// once per panel (on the fly for kernels of more than 64 taps).
void pack_rows_gather(const ConvCols& g, int64_t p0, int64_t kc, int64_t j0, int64_t nj,
                      float* dst) {
  const __m512i vh = _mm512_set1_epi32(static_cast<int32_t>(g.h));
  const __m512i vw = _mm512_set1_epi32(static_cast<int32_t>(g.w));
  const int64_t taps = g.kh * g.kw, hw = g.h * g.w;
  const Gather half[2] = {Gather(g, j0, nj), Gather(g, j0 + 16, nj - 16)};
  if (taps > TapTable::kMax) {
    for (int64_t r = 0; r < kc; ++r, dst += 32) {
      const Tap t = tap_of(g, p0 + r);
      for (int k = 0; k < 2; ++k)
        _mm512_store_ps(dst + 16 * k, gather(t.plane, half[k].index(tap_offset(t, g.w)),
                                             half[k].inside(t.off_h, t.off_w, vh, vw)));
    }
    return;
  }
  __m512i idx[2][TapTable::kMax];
  __mmask16 mask[2][TapTable::kMax];
  for (int64_t q = 0; q < taps; ++q) {
    const Tap t = tap_of(g, q);  // channel 0: only the offsets matter
    for (int k = 0; k < 2; ++k) {
      idx[k][q] = half[k].index(tap_offset(t, g.w));
      mask[k][q] = half[k].inside(t.off_h, t.off_w, vh, vw);
    }
  }
  int64_t ci = p0 / taps, q = p0 % taps;
  const float* plane = g.img + ci * hw;
  for (int64_t r = 0; r < kc; ++r, dst += 32) {
    _mm512_store_ps(dst, gather(plane, idx[0][q], mask[0][q]));
    _mm512_store_ps(dst + 16, gather(plane, idx[1][q], mask[1][q]));
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
  const __m512i vh = _mm512_set1_epi32(static_cast<int32_t>(g.h));
  const __m512i vw = _mm512_set1_epi32(static_cast<int32_t>(g.w));
  const int64_t taps = g.kh * g.kw, hw = g.h * g.w;
  if (taps > TapTable::kMax) {  // one image (ConvCols' contract)
    const Lanes lo(j0, nj, g.w), hi(j0 + 16, nj - 16, g.w);
    for (int64_t r = 0; r < kc; ++r, dst += 32) {
      const Tap t = tap_of(g, p0 + r);
      _mm512_store_ps(dst, load_taps(t, j0, g.w, lo.inside(t.off_h, t.off_w, vh, vw)));
      _mm512_store_ps(dst + 16, load_taps(t, j0 + 16, g.w, hi.inside(t.off_h, t.off_w, vh, vw)));
    }
    return;
  }
  // Per half: lanes [0, split) read image b, lanes [split, n) image b + 1 (h * w >= 16, so
  // a half touches at most two images). Offsets are from g.img to lane 0's element.
  TapTable a[2], b[2];
  bool two[2];
  for (int k = 0; k < 2; ++k) {
    const int64_t j = j0 + 16 * k, n = std::clamp<int64_t>(nj - 16 * k, 0, 16);
    const int64_t img = j / hw, l = j % hw, split = std::min<int64_t>(n, hw - l);
    const Lanes first(l, split, g.w), second(l - hw, n, g.w);  // lanes < split read 0 below
    const __mmask16 seg_a = lane_mask(split), seg_b = static_cast<__mmask16>(lane_mask(n) & ~seg_a);
    two[k] = seg_b != 0;
    for (int64_t q = 0; q < taps; ++q) {
      const Tap t = tap_of(g, q);  // channel 0: only the offsets matter
      const std::ptrdiff_t off = static_cast<std::ptrdiff_t>(t.off_h) * g.w + t.off_w;
      a[k].mask[q] = first.inside(t.off_h, t.off_w, vh, vw) & seg_a;
      a[k].off[q] = img * g.image_stride + l + off;
      b[k].mask[q] = second.inside(t.off_h, t.off_w, vh, vw) & seg_b;
      b[k].off[q] = (img + 1) * g.image_stride + (l - hw) + off;
    }
  }
  int64_t ci = p0 / taps, q = p0 % taps;
  const float* plane = g.img + ci * hw;
  for (int64_t r = 0; r < kc; ++r, dst += 32) {
    for (int k = 0; k < 2; ++k) {
      __m512 v = _mm512_maskz_loadu_ps(a[k].mask[q], at(plane, a[k].off[q]));
      if (two[k]) v = _mm512_mask_loadu_ps(v, b[k].mask[q], at(plane, b[k].off[q]));
      _mm512_store_ps(dst + 16 * k, v);
    }
    if (++q == taps) {
      q = 0;
      plane += hw;
    }
  }
}

// op(B) = columns^T: rows l0 .. l0 + kc (positions), columns p0 .. p0 + np (taps). Loads
// 16 positions of 16 taps (loaded, or gathered for other geometry), transposes them in
// registers.
void pack_cols(const ConvCols& g, int64_t l0, int64_t kc, int64_t p0, int64_t np, float* dst) {
  const __m512i vh = _mm512_set1_epi32(static_cast<int32_t>(g.h));
  const __m512i vw = _mm512_set1_epi32(static_cast<int32_t>(g.w));
  const bool contiguous = g.contiguous();
  Tap taps[32];
  for (int64_t q = 0; q < np; ++q) taps[q] = tap_of(g, p0 + q);
  for (int64_t lb = 0; lb < kc; lb += 16) {
    const int64_t nl = std::min<int64_t>(16, kc - lb);
    const Lanes lanes(l0 + lb, nl, g.w);
    const Gather cols(g, l0 + lb, nl);
    for (int64_t jb = 0; jb < 32; jb += 16) {
      __m512 r[16];
      for (int64_t t = 0; t < 16; ++t) {
        const int64_t q = jb + t;
        if (q >= np)
          r[t] = _mm512_setzero_ps();
        else if (contiguous)
          r[t] = load_taps(taps[q], l0 + lb, g.w,
                           lanes.inside(taps[q].off_h, taps[q].off_w, vh, vw));
        else
          r[t] = gather(taps[q].plane, cols.index(tap_offset(taps[q], g.w)),
                        cols.inside(taps[q].off_h, taps[q].off_w, vh, vw));
      }
      transpose16(r);
      for (int64_t t = 0; t < nl; ++t) _mm512_store_ps(dst + (lb + t) * 32 + jb, r[t]);
    }
  }
}

void pack_taps_channels_last(const ConvCols& g, const float* xt, int64_t l0, int64_t kc, int64_t j0,
                             int64_t nj, float* dst) {
  const int64_t c = g.c, h = g.h, w = g.w, hw = h * w;
  // Each 16-column half of the panel is one tap and 16 consecutive channels.
  struct Half {
    bool used;
    int32_t off_h, off_w;
    std::ptrdiff_t off;  // offset of (tap, first channel) from xt[l * c]
    __mmask16 lanes;
  } half[2];
  for (int k = 0; k < 2; ++k) {
    const int64_t p = j0 + 16 * k, n = std::min<int64_t>(16, nj - 16 * k);
    half[k].used = n > 0;
    if (!half[k].used) continue;
    const int64_t tap = p / c, ci = p % c, i = tap / g.kw, j = tap % g.kw;
    half[k].off_h = static_cast<int32_t>(i * g.dil_h - g.pad_h);
    half[k].off_w = static_cast<int32_t>(j * g.dil_w - g.pad_w);
    half[k].off = (static_cast<std::ptrdiff_t>(half[k].off_h) * w + half[k].off_w) * c + ci;
    half[k].lanes = lane_mask(n);
  }
  // Rows are output positions, image after image: (l0 / lo, l0 % lo) onwards; position
  // (oh, ow) reads input (oh * stride_h, ow * stride_w) + the tap's offset.
  const int64_t lo = g.h_out * g.w_out;
  int64_t oh = (l0 % lo) / g.w_out, ow = (l0 % lo) % g.w_out;
  const float* image = xt + (l0 / lo) * hw * c;
  for (int64_t r = 0; r < kc; ++r, dst += 32) {
    const int64_t ih = oh * g.stride_h, iw = ow * g.stride_w;
    const float* row = image + (ih * w + iw) * c;
    for (int k = 0; k < 2; ++k) {
      const bool inside = half[k].used &&
                          static_cast<uint64_t>(ih + half[k].off_h) < static_cast<uint64_t>(h) &&
                          static_cast<uint64_t>(iw + half[k].off_w) < static_cast<uint64_t>(w);
      _mm512_store_ps(dst + 16 * k, inside ? _mm512_maskz_loadu_ps(half[k].lanes, row + half[k].off)
                                           : _mm512_setzero_ps());
    }
    if (++ow == g.w_out) {
      ow = 0;
      if (++oh == g.h_out) {
        oh = 0;
        image += hw * c;
      }
    }
  }
}

void rows_direct(const float* a16, int64_t m, const ConvCols& g, float* c, int64_t ldc,
                 float beta) {
  const __m512i vh = _mm512_set1_epi32(static_cast<int32_t>(g.h));
  const __m512i vw = _mm512_set1_epi32(static_cast<int32_t>(g.w));
  const int64_t taps = g.kh * g.kw, hw = g.h * g.w;
  int32_t off_h[TapTable::kMax], off_w[TapTable::kMax];
  std::ptrdiff_t off[TapTable::kMax];
  for (int64_t q = 0; q < taps; ++q) {
    const Tap t = tap_of(g, q);
    off_h[q] = t.off_h;
    off_w[q] = t.off_w;
    off[q] = static_cast<std::ptrdiff_t>(t.off_h) * g.w + t.off_w;
  }
  const __m512 vbeta = _mm512_set1_ps(beta);
  const bool contiguous = g.contiguous();
  const int64_t lo = g.h_out * g.w_out;
  __mmask16 mask[TapTable::kMax];
  __m512i idx[TapTable::kMax];  // gathers only
  for (int64_t l0 = 0; l0 < lo; l0 += 16) {
    const int64_t nl = std::min<int64_t>(16, lo - l0);
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
    __m512 acc[16];
#pragma GCC unroll 16
    for (int i = 0; i < 16; ++i) acc[i] = _mm512_setzero_ps();
    const float* a = a16;
    const std::uintptr_t image = reinterpret_cast<std::uintptr_t>(contiguous ? g.img + l0 : g.img);
    for (int64_t ci = 0; ci < g.c; ++ci) {
      const std::uintptr_t plane = image + static_cast<std::uintptr_t>(ci * hw * 4);
      for (int64_t q = 0; q < taps; ++q, a += 16) {
        const __m512 b =
            contiguous
                ? _mm512_maskz_loadu_ps(mask[q], reinterpret_cast<const float*>(
                                                     plane + static_cast<std::uintptr_t>(off[q] * 4)))
                : gather(reinterpret_cast<const float*>(plane), idx[q], mask[q]);
#pragma GCC unroll 16
        for (int i = 0; i < 16; ++i) acc[i] = _mm512_fmadd_ps(_mm512_set1_ps(a[i]), b, acc[i]);
      }
    }
    const __mmask16 out = lane_mask(nl);
    // Constant indices only, so that acc stays in registers.
#pragma GCC unroll 16
    for (int i = 0; i < 16; ++i) {
      if (i >= m) break;
      float* row = c + i * ldc + l0;
      __m512 r = acc[i];
      if (beta != 0.0f) r = _mm512_fmadd_ps(vbeta, _mm512_maskz_loadu_ps(out, row), r);
      _mm512_mask_storeu_ps(row, out, r);
    }
  }
}

void to_channels_last(const float* x, int64_t c, int64_t hw, float* xt) {
  for (int64_t c0 = 0; c0 < c; c0 += 16) {
    const int64_t nc = std::min<int64_t>(16, c - c0);
    const __mmask16 cm = lane_mask(nc);
    for (int64_t l0 = 0; l0 < hw; l0 += 16) {
      const int64_t nl = std::min<int64_t>(16, hw - l0);
      const __mmask16 lm = lane_mask(nl);
      __m512 r[16];
      for (int64_t i = 0; i < 16; ++i)
        r[i] = i < nc ? _mm512_maskz_loadu_ps(lm, x + (c0 + i) * hw + l0) : _mm512_setzero_ps();
      transpose16(r);
      for (int64_t t = 0; t < nl; ++t) _mm512_mask_storeu_ps(xt + (l0 + t) * c + c0, cm, r[t]);
    }
  }
}

const ConvImplicitKernels kConv = {
    32, &pack_rows, &pack_cols, &pack_taps_channels_last, &rows_direct, &to_channels_last};

}  // namespace

DLX_PROVIDE_KERNELS(conv_implicit_kernels, kConv)

}  // namespace dlx::DLX_ISA_NS
