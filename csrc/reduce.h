// Deterministic sums in double.
//
// lane_sum_of(n, f) adds f(i) -> double for i in [0, n) on kLanes independent accumulators
// (lane k takes i = k, k + kLanes, ...), then adds the lanes in order. Each lane is a plain
// element-wise add, so GCC vectorises it without -ffast-math, and the order is fixed.
// (An `omp simd reduction` makes GCC privatise into "simd arrays" and then give up on
// if-converting the body, leaving the loop scalar; this form does not.) Keep f cheap and
// branch-free; for expensive f, compute values into a buffer with a plain loop first.
// Compiler bug to avoid: GCC 12.2 -O3 with AVX-512 turns `acc += cond ? 0.0 : a * b` into a
// masked FMA reduction and returns wrong sums; write `(cond ? 0 : a) * b` instead (tested by
// the PReLU weight-gradient tests).
//
// parallel_sum(count, work, f) splits [0, count) into one contiguous range per thread, calls
// f(begin, end) -> double on each, and adds the partial sums in thread order. Unlike an
// OpenMP reduction clause (which combines partials in arrival order), the result depends only
// on the thread count. f may write outputs for its range as a side effect.
#pragma once

#include <omp.h>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <vector>

#include "threads.h"

namespace dlx {

constexpr int kLanes = 16;

template <typename F>
double lane_sum_of(int64_t n, F f) {
  double s = 0.0;
  if (n < kLanes) {  // short rows: skip setting up and folding the lanes
    for (int64_t i = 0; i < n; ++i) s += f(i);
    return s;
  }
  double acc[kLanes] = {};
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    for (int k = 0; k < kLanes; ++k) acc[k] += f(i + k);
  }
  for (int k = 0; k < kLanes; ++k) s += acc[k];
  for (; i < n; ++i) s += f(i);
  return s;
}

template <typename T>
double lane_sum(const T* a, int64_t n) {
  return lane_sum_of(n, [a](int64_t i) { return static_cast<double>(a[i]); });
}

// Max of a[0, n) (-inf when empty); NaNs are skipped, as callers see them downstream anyway.
template <typename T>
T lane_max(const T* a, int64_t n) {
  T m = -std::numeric_limits<T>::infinity();
  if (n < kLanes) {
    for (int64_t i = 0; i < n; ++i) m = m < a[i] ? a[i] : m;
    return m;
  }
  T acc[kLanes];
  std::fill_n(acc, kLanes, -std::numeric_limits<T>::infinity());
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    for (int k = 0; k < kLanes; ++k) acc[k] = acc[k] < a[i + k] ? a[i + k] : acc[k];
  }
  for (int k = 0; k < kLanes; ++k) m = m < acc[k] ? acc[k] : m;
  for (; i < n; ++i) m = m < a[i] ? a[i] : m;
  return m;
}

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
