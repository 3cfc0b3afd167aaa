// Which algorithm runs a convolution. DLX_CONV_ALGO (read at the first convolution) or
// conv_algo_force (tests) forces one; otherwise conv_algo_choose applies the cost rule
// below, once per (shape, dtype, ISA level, thread count) per process (cached).
//
//   depthwise  one input channel per group (conv_depthwise.h): a direct kernel, no GEMM
//   implicit   float32, groups == 1, not a plain 1x1: implicit GEMM (conv_implicit.h)
//   im2col     everything else (float64, grouped, 1x1 stride-1 unpadded = one plain GEMM)
//
// Automatic rule: depthwise for grouped depthwise shapes (groups > 1); else implicit for
// stride-1 'same' convolutions (contiguous panels) and for strided ones with >= 8 input
// channels (the input gradient in phases); else im2col (conv_algo.cpp has the measurements). A forced algorithm that cannot run a shape (implicit on float64 or on
// a grouped convolution, depthwise with several input channels per group) runs the automatic
// choice instead.
#pragma once

#include <string>

#include "conv.h"

namespace dlx {

enum class ConvAlgo : int { automatic = 0, implicit = 1, im2col = 2, depthwise = 3 };

const char* conv_algo_name(ConvAlgo a);
// The algorithm named `name` ("auto", "implicit", "im2col", "depthwise"); false otherwise.
bool conv_algo_from_name(const std::string& name, ConvAlgo& a);
// The forced algorithm (automatic when none). The first call reads DLX_CONV_ALGO; an
// unknown value throws std::invalid_argument (ValueError) naming the allowed values, at this
// and every later call until conv_algo_force sets one.
ConvAlgo conv_algo_forced();
// Forces `a` (automatic: none) for the rest of the process and empties the choice cache.
void conv_algo_force(ConvAlgo a);
// The algorithm that runs s with elements of type float32 (else float64): never automatic.
ConvAlgo conv_algo_choose(const Conv2dShape& s, bool float32);
// True when the implicit GEMM can run s in float32 (conv_detail.h sizes included).
bool conv_implicit_supported(const Conv2dShape& s);

}  // namespace dlx
