// Dense layer kernels on row-major buffers (PyTorch's nn.Linear layout).
//   x: (n, in)   weight: (out, in)   bias: (out) or nullptr   y: (n, out)
// Forward  y = x @ weight^T + bias   (bias pre-filled, then one GEMM with beta = 1)
// Backward gx = gy @ weight,  gw = gy^T @ x,  gb = sum over rows of gy
// Any of gx / gw / gb may be nullptr to skip it. Outputs are overwritten.
#pragma once

#include <cstdint>
#include <vector>

namespace dlx {

template <typename T>
void linear_forward(const T* x, const T* weight, const T* bias, T* y, int64_t n, int64_t in,
                    int64_t out);

template <typename T>
void linear_backward(const T* gy, const T* x, const T* weight, T* gx, T* gw, T* gb, int64_t n,
                     int64_t in, int64_t out);

// A run of dense layers: x (n, widths[0]) -> layer i: relu?(x @ weights[i]^T + biases[i])
// -> y (n, widths.back()). Same results as linear_forward and a ReLU per layer. For one
// float32 row on several threads, every layer's rows are split over one team of threads
// (each thread keeps its slice of the weights in its own cache between calls).
template <typename T>
void dense_chain_forward(const T* x, const std::vector<const T*>& weights,
                         const std::vector<const T*>& biases, const std::vector<bool>& relu,
                         const std::vector<int64_t>& widths, int64_t n, T* y);

// Column sums of a (rows, cols) matrix into out[cols], accumulated in double.
template <typename T>
void sum_rows(const T* a, T* out, int64_t rows, int64_t cols);

}  // namespace dlx
