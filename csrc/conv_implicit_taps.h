// Where the implicit im2col reads (conv_implicit.h), shared by the level units
// conv_implicit_avx2.cpp and conv_implicit_avx512.cpp. Plain C++, forced inline (each level
// keeps its own copy).
#pragma once

#include <cstdint>

#include "conv_implicit.h"

namespace dlx::conv_taps {

// Row p = (ci, i, j) of the column matrix reads plane ci at offset (i * dil_h - pad_h,
// j * dil_w - pad_w) from the output position.
struct Tap {
  const float* plane;
  int32_t off_h, off_w;
};
inline __attribute__((always_inline)) Tap tap_of(const ConvCols& g, int64_t p) {
  const int64_t taps = g.kh * g.kw, ci = p / taps, i = (p % taps) / g.kw, j = p % g.kw;
  return {g.img + ci * g.h * g.w, static_cast<int32_t>(i * g.dil_h - g.pad_h),
          static_cast<int32_t>(j * g.dil_w - g.pad_w)};
}

// plane + off floats, computed without pointer arithmetic (the element may lie outside the
// plane when its lane is masked off and never read).
inline __attribute__((always_inline)) const float* at(const float* plane, std::ptrdiff_t off) {
  return reinterpret_cast<const float*>(reinterpret_cast<std::uintptr_t>(plane) +
                                        static_cast<std::uintptr_t>(off * 4));
}

// Kernels of at most this many taps (8x8) get per-tap tables of masks and offsets.
constexpr int kMaxTableTaps = 64;

}  // namespace dlx::conv_taps
