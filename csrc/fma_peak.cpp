// Timing side of the FMA peak microbenchmark (fma_peak.h).
#include "fma_peak.h"

#include <omp.h>

#include <chrono>

namespace dlx {

KernelFamily<FmaPeakKernels> fma_peak_kernels{"fma_peak"};

double fma_peak_gflops(int threads, double seconds) {
  const FmaPeakKernels* k = fma_peak_kernels.get();
  if (k == nullptr || threads < 1) return 0.0;
  // Calibrate on one thread, then every thread runs the same count at once.
  int64_t iters = 1 << 16;
  double elapsed = 0.0;
  volatile float sink = 0.0f;
  for (;;) {
    const auto t0 = std::chrono::steady_clock::now();
    sink = sink + k->run(iters);
    elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (elapsed >= seconds / 4 || iters > (int64_t{1} << 40)) break;
    iters *= 2;
  }
  iters = static_cast<int64_t>(static_cast<double>(iters) * seconds / elapsed) + 1;
  const auto t0 = std::chrono::steady_clock::now();
#pragma omp parallel num_threads(threads)
  {
    const float r = k->run(iters);
#pragma omp atomic
    sink = sink + r;  // NOLINT: keeps the result alive
  }
  elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return static_cast<double>(k->flops_per_iteration) * static_cast<double>(iters) * threads /
         elapsed / 1e9;
}

}  // namespace dlx
