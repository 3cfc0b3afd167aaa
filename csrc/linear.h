// Dense layer kernels on row-major buffers (PyTorch's nn.Linear layout).
//   x: (n, in)   weight: (out, in)   bias: (out) or nullptr   y: (n, out)
// Forward  y = x @ weight^T + bias   (bias pre-filled, then one GEMM with beta = 1)
// Backward gx = gy @ weight,  gw = gy^T @ x,  gb = sum over rows of gy
// Any of gx / gw / gb may be nullptr to skip it. Outputs are overwritten.
#pragma once

#include <cstdint>

namespace dlx {

template <typename T>
void linear_forward(const T* x, const T* weight, const T* bias, T* y, int64_t n, int64_t in,
                    int64_t out);

template <typename T>
void linear_backward(const T* gy, const T* x, const T* weight, T* gx, T* gw, T* gb, int64_t n,
                     int64_t in, int64_t out);

// Column sums of a (rows, cols) matrix into out[cols], accumulated in double.
template <typename T>
void sum_rows(const T* a, T* out, int64_t rows, int64_t cols);

}  // namespace dlx
