// The elementwise activation maps per ISA level (activation_levels.cpp); activation.cpp
// runs the active level's. Semantics as activation.h.
#pragma once

#include <cstdint>

#include "activation.h"
#include "dispatch.h"

namespace dlx {

template <typename T>
struct ActivationFns {
  void (*forward)(Activation op, const T* x, T* y, int64_t n, const ActivationParams& p);
  void (*backward)(Activation op, const T* gy, const T* saved, T* gx, int64_t n,
                   const ActivationParams& p);
};
using ActivationKernels = PerType<ActivationFns>;
extern KernelFamily<ActivationKernels> activation_kernels;

}  // namespace dlx
