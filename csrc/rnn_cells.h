// The elementwise cell math of the recurrent layers, one row of the batch at a time, built
// per ISA level (rnn_cells_levels.cpp): float32 LSTM and GRU rows by hand on the level's
// vectors (vmath_simd.h), everything else vectorised by the compiler for the level. The
// recurrences (rnn.cpp, rnn_backward*.cpp) are generic and call these once per step.
// Layouts as in rnn.h: LSTM workspace rows [i, f, g, o, c] (5H), GRU [r, z, n, lin] (4H).
#pragma once

#include <cstdint>

#include "dispatch.h"

namespace dlx {

template <typename T>
struct RnnCellFns {
  // p: n_rows rows of stride ld holding the gate pre-activations (without the biases b, 4H);
  // they become the gates and c_t; h = o tanh(c_t). cp: c_{t-1}, row stride ldc.
  void (*lstm)(int64_t n_rows, int64_t H, T* p, int64_t ld, const T* cp, int64_t ldc, T* h,
               const T* b, bool par);
  // p: input-side pre-activations (row stride 4H, biases included except b_hn); gh: the
  // hidden-side ones (3H, no bias); b_hn: the n-gate part of bias_hh (zeros without bias).
  void (*gru)(int64_t n_rows, int64_t H, T* p, const T* gh, const T* b_hn, const T* hp, T* h,
              bool par);
  // h[0:count] = tanh(h) or relu(h), in place.
  void (*simple)(int64_t count, bool relu, T* h, bool par);
  // LSTM backward: d = dh (row stride ldd) + gy is the gradient of h_t; dc (in: dL/dc_t from
  // later steps) becomes dL/dc_{t-1}; dg (4H per row) the pre-activation gate gradients.
  void (*lstm_backward)(int64_t n_rows, int64_t H, const T* ws, const T* cp, int64_t ldc,
                        const T* gy, const T* dh, int64_t ldd, T* dc, T* dg, bool par);
  // RNN tanh / relu backward: dg = (dh + gy) * f'(h); dh row stride ldd, the rest H.
  void (*simple_backward)(int64_t n_rows, int64_t H, bool relu, const T* h, const T* gy,
                          const T* dh, int64_t ldd, T* dg, bool par);
  // GRU backward: dgi / dgh (3H per row) the input- and hidden-side pre-activation gradients;
  // dh becomes the direct part z * dh' of dL/dh_prev (the caller's GEMM adds the rest).
  void (*gru_backward)(int64_t n_rows, int64_t H, const T* ws, const T* gy, const T* hp, T* dh,
                       T* dgi, T* dgh, bool par);
};
using RnnCellKernels = PerType<RnnCellFns>;
extern KernelFamily<RnnCellKernels> rnn_cell_kernels;

// The cells of the active level for T (every level has them).
template <typename T>
const RnnCellFns<T>& rnn_cells() {
  return rnn_cell_kernels.get()->of<T>();
}

}  // namespace dlx
