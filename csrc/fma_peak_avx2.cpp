// avx2 level of the FMA peak microbenchmark (fma_peak.h): 12 independent chains of
// 8-lane FMAs (latency 4 x two FMA units needs at least 8 in flight).
#include <immintrin.h>

#include <cstdint>

#include "fma_peak.h"

namespace dlx::DLX_ISA_NS {
namespace {

constexpr int kChains = 12;

float run(int64_t iterations) {
  const __m256 m = _mm256_set1_ps(0.999999f), a = _mm256_set1_ps(1e-7f);
  __m256 acc[kChains];
  for (int i = 0; i < kChains; ++i) acc[i] = _mm256_set1_ps(1.0f + 0.01f * i);
  for (int64_t it = 0; it < iterations; ++it) {
#pragma GCC unroll 12
    for (int i = 0; i < kChains; ++i) acc[i] = _mm256_fmadd_ps(acc[i], m, a);
  }
  __m256 s = acc[0];
  for (int i = 1; i < kChains; ++i) s = _mm256_add_ps(s, acc[i]);
  alignas(64) float lanes[8];
  _mm256_store_ps(lanes, s);
  float total = 0.0f;
  for (float v : lanes) total += v;
  return total;
}

const FmaPeakKernels kPeak = {int64_t{2} * 8 * kChains, &run};

}  // namespace

DLX_PROVIDE_KERNELS(fma_peak_kernels, kPeak)

}  // namespace dlx::DLX_ISA_NS
