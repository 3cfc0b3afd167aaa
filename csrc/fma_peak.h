// The FMA throughput of one core at the active ISA level, for benchmarks: sgemm efficiency
// is quoted against it (benchmarks/bench_linear.py, python -m dlx info). Levels:
// fma_peak_avx2.cpp, fma_peak_avx512.cpp.
#pragma once

#include <cstdint>

#include "dispatch.h"

namespace dlx {

struct FmaPeakKernels {
  int64_t flops_per_iteration;
  // Runs `iterations` rounds of independent vector FMA chains (enough to hide the latency);
  // returns a value depending on all of them, so the work cannot be optimised away.
  float (*run)(int64_t iterations);
};
extern KernelFamily<FmaPeakKernels> fma_peak_kernels;

// GFLOP/s of `threads` threads running the chains for about `seconds`; 0 without a level
// that has them (the baseline).
double fma_peak_gflops(int threads, double seconds);

}  // namespace dlx
