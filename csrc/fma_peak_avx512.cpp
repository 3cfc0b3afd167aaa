// avx512 level of the FMA peak microbenchmark (fma_peak.h): 12 independent chains of
// 16-lane FMAs (latency 4 x two FMA units needs at least 8 in flight).
#include <immintrin.h>

#include <cstdint>

#include "fma_peak.h"

namespace dlx::DLX_ISA_NS {
namespace {

constexpr int kChains = 12;

float run(int64_t iterations) {
  const __m512 m = _mm512_set1_ps(0.999999f), a = _mm512_set1_ps(1e-7f);
  __m512 acc[kChains];
  for (int i = 0; i < kChains; ++i) acc[i] = _mm512_set1_ps(1.0f + 0.01f * i);
  for (int64_t it = 0; it < iterations; ++it) {
#pragma GCC unroll 12
    for (int i = 0; i < kChains; ++i) acc[i] = _mm512_fmadd_ps(acc[i], m, a);
  }
  __m512 s = acc[0];
  for (int i = 1; i < kChains; ++i) s = _mm512_add_ps(s, acc[i]);
  alignas(64) float lanes[16];
  _mm512_store_ps(lanes, s);
  float total = 0.0f;
  for (float v : lanes) total += v;
  return total;
}

const FmaPeakKernels kPeak = {int64_t{2} * 16 * kChains, &run};

}  // namespace

DLX_PROVIDE_KERNELS(fma_peak_kernels, kPeak)

}  // namespace dlx::DLX_ISA_NS
