// Dropout with a counter-based RNG: element i's keep decision is a pure function of
// (seed, i), so the mask is the same for any thread count or chunking, and
// dlx.reference.dropout reproduces it bit for bit.
//
//   key     = splitmix64_mix(seed)
//   bits(i) = splitmix64_mix(key + (i + 1) * 0x9E3779B97F4A7C15)   (i = flat C-order index;
//             this is the i-th output of the SplitMix64 generator started at `key`)
//   keep(i) = (bits(i) >> 11) >= ceil(p * 2^53)   i.e. a 53-bit uniform u >= p
// so P(keep) = 1 - p exactly up to 2^-53; p = 0 keeps all, p = 1 drops all.
//
// Buffers hold n elements (any shape, flattened). mask is uint8, 1 = keep.
//   dropout_forward:  y = x * (mask ? scale : 0),  scale = 1 / (1 - p)  (0 when p == 1)
//   dropout_backward: gx = gy * (mask ? scale : 0)   (any non-zero mask byte means keep)
// Outputs are overwritten. Elements run in parallel (OpenMP).
#pragma once

#include <cstdint>

namespace dlx {

void dropout_mask(uint8_t* mask, int64_t n, double p, uint64_t seed);

template <typename T>
void dropout_forward(const T* x, T* y, uint8_t* mask, int64_t n, double p, uint64_t seed);

template <typename T>
void dropout_backward(const T* gy, const uint8_t* mask, T* gx, int64_t n, double p);

}  // namespace dlx
