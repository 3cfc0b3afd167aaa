// Deterministic parallel sums in double.
//
// parallel_sum(count, work, f) splits [0, count) into one contiguous range per thread, calls
// f(begin, end) -> double on each, and adds the partial sums in thread order. Unlike an
// OpenMP reduction clause (which combines partials in arrival order), the result depends only
// on the thread count. f may write outputs for its range as a side effect.
#pragma once

#include <omp.h>

#include <algorithm>
#include <cstdint>
#include <vector>

#include "threads.h"

namespace dlx {

// Below this many elements of work a parallel region costs more than it saves.
constexpr int64_t kReduceParallelMin = 1 << 15;

template <typename F>
double parallel_sum(int64_t count, int64_t work, F f) {
  const int nt = work > kReduceParallelMin ? num_threads() : 1;
  if (nt <= 1 || count <= 1) return f(int64_t{0}, count);
  constexpr size_t kPad = 8;  // one cache line per partial: no false sharing
  std::vector<double> partial(static_cast<size_t>(nt) * kPad, 0.0);
#pragma omp parallel num_threads(nt)
  {
    const int64_t t = omp_get_thread_num(), k = omp_get_num_threads();
    const int64_t block = (count + k - 1) / k;
    const int64_t begin = std::min(count, t * block), end = std::min(count, begin + block);
    partial[static_cast<size_t>(t) * kPad] = f(begin, end);
  }
  double s = 0.0;
  for (int t = 0; t < nt; ++t) s += partial[static_cast<size_t>(t) * kPad];
  return s;
}

}  // namespace dlx
