// Per-level float32 LSTM cell rows (rnn.cpp and rnn_backward_gates.cpp are generic and fall
// back to their portable templates without them). Levels: rnn_cell_avx512.cpp,
// rnn_cell_avx2.cpp.
#pragma once

#include <cstdint>

#include "dispatch.h"

namespace dlx {

struct RnnCellKernels {
  // One batch row of the forward cell. ws = [i, f, g, o, c] (5H): on entry the first 4H hold
  // the gate pre-activations without the biases b (4H, b_ih + b_hh); on exit the gates and
  // c_t = f c_{t-1} + i g; h = o tanh(c_t).
  void (*lstm_row)(int64_t H, float* ws, const float* c_prev, float* h, const float* b);
  // One batch row of the backward cell: ws as the forward pass left it; d = dh + gy is the
  // gradient of h_t; dc (in: dL/dc_t from later steps) becomes dL/dc_{t-1}; dg receives the
  // pre-activation gate gradients (4H). ldc: row stride of c_prev (prefetch distance).
  void (*lstm_row_backward)(int64_t H, const float* ws, const float* c_prev, const float* gy,
                            const float* dh, float* dc, float* dg, int64_t ldc);
};
extern KernelFamily<RnnCellKernels> rnn_cell_kernels;

}  // namespace dlx
