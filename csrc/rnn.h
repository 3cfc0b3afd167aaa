// Recurrent layers: one layer, one direction, the whole sequence per call (PyTorch layout).
//
// Shapes (row-major, time-major): x (S, N, I), weight_ih (G*H, I), weight_hh (G*H, H),
// bias_ih / bias_hh (G*H) or both nullptr, h0 / c0 (N, H), y (S, N, H), h_n / c_n (N, H).
// G = 1 (RNN tanh / relu), 4 (LSTM, gates i, f, g, o), 3 (GRU, gates r, z, n).
//   RNN:  h' = act(W_ih x + b_ih + W_hh h + b_hh)
//   LSTM: i, f, o = sigmoid(.), g = tanh(.), c' = f c + i g, h' = o tanh(c')
//   GRU:  r, z = sigmoid(.), n = tanh(W_in x + b_in + r (W_hn h + b_hn)), h' = (1 - z) n + z h
// With `reverse` the steps run t = S-1 .. 0 (the backward direction of a bidirectional
// layer); y[t] is always the state after consuming x[t], and h_n is the final state.
//
// Forward: one GEMM projects every step's input (both biases fused, except GRU's b_hn),
// then per step one GEMM h @ W_hh^T and a fused elementwise pass (OpenMP over rows when
// large; BLAS threads the GEMMs, never inside an OpenMP region).
// Workspace ws (S, N, rnn_workspace_width): what backward needs, written by forward.
//   RNN: none (width 0; backward uses y)
//   LSTM: [i, f, g, o, c] (activated gates and the cell state), width 5H
//   GRU:  [r, z, n, W_hn h + b_hn], width 4H
// Backward: BPTT, per step the gate gradients and dh_prev = dgates @ W_hh; then one GEMM
// each for dW_ih, dW_hh and dx over all steps, and column sums for the biases.
// grad_h_n / grad_c_n may be nullptr (zero); gb_ih / gb_hh may be nullptr (no bias);
// gc0 only for LSTM. All outputs are overwritten.
#pragma once

#include <cstdint>

namespace dlx {

enum class RnnMode : int { tanh = 0, relu = 1, lstm = 2, gru = 3 };

inline int64_t rnn_gate_count(RnnMode m) {
  return m == RnnMode::lstm ? 4 : (m == RnnMode::gru ? 3 : 1);
}
inline int64_t rnn_workspace_width(RnnMode m, int64_t hidden) {
  return m == RnnMode::lstm ? 5 * hidden : (m == RnnMode::gru ? 4 * hidden : 0);
}

struct RnnDims {
  int64_t steps, batch, input, hidden;
  bool reverse;
};

template <typename T>
void rnn_forward(RnnMode mode, const RnnDims& d, const T* x, const T* w_ih, const T* w_hh,
                 const T* b_ih, const T* b_hh, const T* h0, const T* c0, T* y, T* h_n, T* c_n,
                 T* ws);

template <typename T>
void rnn_backward(RnnMode mode, const RnnDims& d, const T* gy, const T* gh_n, const T* gc_n,
                  const T* x, const T* w_ih, const T* w_hh, const T* h0, const T* c0, const T* y,
                  const T* ws, T* gx, T* gh0, T* gc0, T* gw_ih, T* gw_hh, T* gb_ih, T* gb_hh);

}  // namespace dlx
