// Internal helpers shared by the fused optimiser kernels (optim*.cpp): the one OpenMP
// element loop, compile-time dispatch of option flags, and PyTorch's lerp.
#pragma once

#include <cstdint>
#include <type_traits>

#include "threads.h"

namespace dlx::optim_detail {

// Below this many elements a step runs on the calling thread: waking the pool costs more.
constexpr int64_t kParallelGrain = 32768;

// body(i) for i in [0, n): one static OpenMP split, no reduction, so every element sees
// the same arithmetic whatever the thread count. Each thread works on its own copy of the
// closure so the captured pointers and scalars are plain loop invariants, and `simd`
// asserts what holds for every optimiser step (iteration i touches only element i of each
// buffer): without both, GCC gives up vectorising loops over five buffers.
template <typename F>
inline void for_each_index(int64_t n, const F& body) {
#pragma omp parallel num_threads(::dlx::num_threads()) if (n > kParallelGrain)
  {
    const F local(body);
#pragma omp for simd schedule(static)
    for (int64_t i = 0; i < n; ++i) local(i);
  }
}

// f(std::true_type{}) or f(std::false_type{}): turns a runtime option into a template
// constant so the element loop has no branch and vectorises.
template <typename F>
inline void with_flag(bool flag, const F& f) {
  if (flag) {
    f(std::true_type{});
  } else {
    f(std::false_type{});
  }
}

// torch.lerp(a, b, w) = a + w (b - a) for |w| < 0.5, else b + (w - 1) (b - a) (the form
// that is exact at w = 1), as ATen's vectorised CPU kernel computes it.
template <typename T>
struct Lerp {
  T coeff;
  bool small;
  explicit Lerp(double w)
      : coeff(w < 0.5 && w > -0.5 ? static_cast<T>(w) : static_cast<T>(w) - T(1)),
        small(w < 0.5 && w > -0.5) {}
  T operator()(T a, T b) const { return (small ? a : b) + coeff * (b - a); }
};

}  // namespace dlx::optim_detail
