#include "dropout.h"

#include <cmath>

#include "common.h"
#include "threads.h"

namespace dlx {
namespace {

constexpr int64_t kParallelWork = 32768;
constexpr uint64_t kGolden = 0x9E3779B97F4A7C15ULL;

// SplitMix64's output function (Steele, Lea and Flood 2014): a bijective 64-bit mixer.
inline uint64_t mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

// Elements with (bits >> 11) >= threshold are kept.
inline uint64_t keep_threshold(double p) {
  return static_cast<uint64_t>(std::ceil(p * 9007199254740992.0));  // p * 2^53, exact
}

inline uint8_t keep(uint64_t key, int64_t i, uint64_t threshold) {
  const uint64_t bits = mix64(key + (static_cast<uint64_t>(i) + 1) * kGolden);
  return static_cast<uint8_t>((bits >> 11) >= threshold);
}

inline double keep_scale(double p) { return p < 1.0 ? 1.0 / (1.0 - p) : 0.0; }

}  // namespace

void dropout_mask(uint8_t* mask, int64_t n, double p, uint64_t seed) {
  const uint64_t key = mix64(seed), threshold = keep_threshold(p);
#pragma omp parallel for num_threads(num_threads()) schedule(static) if (n > kParallelWork)
  for (int64_t i = 0; i < n; ++i) mask[i] = keep(key, i, threshold);
}

template <typename T>
void dropout_forward(const T* x, T* y, uint8_t* mask, int64_t n, double p, uint64_t seed) {
  const uint64_t key = mix64(seed), threshold = keep_threshold(p);
  const T scale = static_cast<T>(keep_scale(p));
#pragma omp parallel for num_threads(num_threads()) schedule(static) if (n > kParallelWork)
  for (int64_t i = 0; i < n; ++i) {
    const uint8_t k = keep(key, i, threshold);
    mask[i] = k;
    y[i] = x[i] * (k ? scale : T(0));  // a product, as in PyTorch: inf * 0 gives nan
  }
}

template <typename T>
void dropout_backward(const T* gy, const uint8_t* mask, T* gx, int64_t n, double p) {
  const T scale = static_cast<T>(keep_scale(p));
#pragma omp parallel for num_threads(num_threads()) schedule(static) if (n > kParallelWork)
  for (int64_t i = 0; i < n; ++i) gx[i] = gy[i] * (mask[i] ? scale : T(0));
}

#define DLX_DROPOUT(T)                                                                 \
  template void dropout_forward<T>(const T*, T*, uint8_t*, int64_t, double, uint64_t); \
  template void dropout_backward<T>(const T*, const uint8_t*, T*, int64_t, double);
DLX_INSTANTIATE(DLX_DROPOUT)

}  // namespace dlx
