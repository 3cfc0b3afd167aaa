// Softmax and log-softmax along one axis.
//
// Layout: a C-contiguous array viewed as (outer, len, inner), the softmax axis in the middle:
// element (o, l, i) sits at (o * len + l) * inner + i. axis = -1 is inner = 1 (rows).
//   softmax      y = exp(x - m) / sum exp(x - m),   m = max over the axis
//   log_softmax  y = (x - m) - log(sum exp(x - m))
// Subtracting the max keeps exp in range (inputs of 1e4 are fine); the sum of exponentials is
// accumulated in double. Backward takes the forward output y:
//   softmax      gx = y * (gy - sum(gy * y))
//   log_softmax  gx = gy - exp(y) * sum(gy)
// Outputs are overwritten and must not alias the inputs.
#pragma once

#include <cstdint>

namespace dlx {

template <typename T>
void softmax_forward(const T* x, T* y, int64_t outer, int64_t len, int64_t inner);

template <typename T>
void log_softmax_forward(const T* x, T* y, int64_t outer, int64_t len, int64_t inner);

template <typename T>
void softmax_backward(const T* gy, const T* y, T* gx, int64_t outer, int64_t len, int64_t inner);

template <typename T>
void log_softmax_backward(const T* gy, const T* y, T* gx, int64_t outer, int64_t len,
                          int64_t inner);

// One contiguous row of log-softmax, serial (the building block of the fused cross-entropy).
template <typename T>
void log_softmax_row(const T* x, T* y, int64_t len);

}  // namespace dlx
