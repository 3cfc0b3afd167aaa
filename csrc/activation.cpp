// Elementwise activations (activation.h): the kernels of the active ISA level
// (activation_levels.cpp).
#include "activation.h"

#include "activation_kernels.h"
#include "common.h"

namespace dlx {

KernelFamily<ActivationKernels> activation_kernels{"activation"};

template <typename T>
void activation_forward(Activation op, const T* x, T* y, int64_t n, const ActivationParams& p) {
  activation_kernels.get()->of<T>().forward(op, x, y, n, p);
}

template <typename T>
void activation_backward(Activation op, const T* gy, const T* s, T* gx, int64_t n,
                         const ActivationParams& p) {
  activation_kernels.get()->of<T>().backward(op, gy, s, gx, n, p);
}

#define DLX_ACTIVATION(T)                                                                          \
  template void activation_forward<T>(Activation, const T*, T*, int64_t, const ActivationParams&); \
  template void activation_backward<T>(Activation, const T*, const T*, T*, int64_t,                \
                                       const ActivationParams&);
DLX_INSTANTIATE(DLX_ACTIVATION)

}  // namespace dlx
