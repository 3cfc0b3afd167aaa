// Activation kernels on contiguous buffers.
//
// Elementwise (activation.cpp): any shape, flattened to n elements.
//   forward   y[i]  = f(x[i])
//   backward  gx[i] = gy[i] * f'(s[i]), where s is the forward input, except for sigmoid and
//             tanh, whose derivative is cheaper from the forward output (s = y).
// Subgradients follow PyTorch: relu'(0) = 0, leaky_relu'(0) = negative_slope, elu'(0) = alpha,
// hardtanh' = 0 on and outside [min_val, max_val], abs_relu'(0) = 0. NaN inputs give NaN.
// y / gx may alias x / gy (each element is read before it is written).
//
// Per-channel (activation_channel.cpp): input viewed as (outer, channels, inner) with the
// channel axis 1 of an (N, C, *rest) array (outer = N, inner = prod(rest)).
//   prelu      y = x > 0 ? x : w[c] * x, w of length `channels`, or 1 when shared.
//              backward: gx = x > 0 ? gy : w[c] * gy; gw[c] = sum over the other axes of
//              (x > 0 ? 0 : x * gy), accumulated in double. Outputs overwritten.
//   maxout     x (outer, units * pieces, inner) -> y (outer, units, inner): unit u is the max
//              over channels u*pieces .. u*pieces + pieces - 1; idx (same shape as y, int64)
//              holds the winning piece 0..pieces-1, the first one on ties, a NaN wins.
//              backward writes every element of gx (outer, units * pieces, inner): gy at the
//              winning piece, 0 elsewhere.
#pragma once

#include <cstdint>

namespace dlx {

enum class Activation {
  relu,
  leaky_relu,
  abs_relu,
  elu,
  sigmoid,
  tanh,
  softplus,
  hardtanh,
  gelu,       // exact: x * Phi(x)
  gelu_tanh,  // 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
  silu,
};

// Scalar hyper-parameters, in double; each op reads only its own.
struct ActivationParams {
  double negative_slope = 0.01;  // leaky_relu
  double alpha = 1.0;            // elu: alpha * (exp(x) - 1) for x <= 0
  double beta = 1.0;             // softplus: log(1 + exp(beta x)) / beta ...
  double threshold = 20.0;       // ... and x itself where beta x > threshold
  double min_val = -1.0;         // hardtanh
  double max_val = 1.0;
};

template <typename T>
void activation_forward(Activation op, const T* x, T* y, int64_t n, const ActivationParams& p);

// `saved` is the forward input, or the forward output for sigmoid and tanh.
template <typename T>
void activation_backward(Activation op, const T* gy, const T* saved, T* gx, int64_t n,
                         const ActivationParams& p);

template <typename T>
void prelu_forward(const T* x, const T* weight, T* y, int64_t outer, int64_t channels,
                   int64_t inner, bool shared);

template <typename T>
void prelu_backward(const T* gy, const T* x, const T* weight, T* gx, T* gweight, int64_t outer,
                    int64_t channels, int64_t inner, bool shared);

template <typename T>
void maxout_forward(const T* x, T* y, int64_t* idx, int64_t outer, int64_t units, int64_t pieces,
                    int64_t inner);

template <typename T>
void maxout_backward(const T* gy, const int64_t* idx, T* gx, int64_t outer, int64_t units,
                     int64_t pieces, int64_t inner);

}  // namespace dlx
