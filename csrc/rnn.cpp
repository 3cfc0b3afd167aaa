// Forward pass of the recurrent layers (see rnn.h).
#include "rnn.h"

#include <algorithm>
#include <vector>

#include "blas.h"
#include "rnn_cells.h"
#include "rnn_detail.h"
#include "threads.h"

namespace dlx {

KernelFamily<RnnCellKernels> rnn_cell_kernels{"rnn_cells"};

namespace {

using rnn_detail::prev_time;
using rnn_detail::step_time;

}  // namespace

template <typename T>
void rnn_forward(RnnMode mode, const RnnDims& d, const T* x, const T* w_ih, const T* w_hh,
                 const T* b_ih, const T* b_hh, const T* h0, const T* c0, T* y, T* h_n, T* c_n,
                 T* ws) {
  const int64_t S = d.steps, N = d.batch, I = d.input, H = d.hidden;
  const int64_t GH = rnn_gate_count(mode) * H;
  const bool simple = mode == RnnMode::tanh || mode == RnnMode::relu;
  // RNN pre-activations live in y; LSTM/GRU gates in the workspace (row stride W).
  const int64_t W = simple ? H : rnn_workspace_width(mode, H);
  T* proj = simple ? y : ws;
  const int64_t rows = S * N;
  const bool bias = b_ih != nullptr;
  rnn_detail::check_blas_dims(d, GH, W);

  // 1. Input projection of all steps: proj[:, 0:GH] = x @ W_ih^T + b_ih + b_hh (GRU: not b_hn).
  // The LSTM cell adds the biases itself (lstm_row); the other cells find them in proj.
  std::vector<T> b(static_cast<size_t>(GH), T(0));
  if (bias) {
    const int64_t fused = mode == RnnMode::gru ? 2 * H : GH;
    for (int64_t j = 0; j < GH; ++j) b[j] = b_ih[j] + (j < fused ? b_hh[j] : T(0));
  }
  const bool fill = bias && mode != RnnMode::lstm;
  if (fill) {
#pragma omp parallel for num_threads(num_threads()) schedule(static) if (rows * GH > 32768)
    for (int64_t r = 0; r < rows; ++r) std::copy(b.begin(), b.end(), proj + r * W);
  }
  gemm(false, true, rows, GH, I, T(1), x, std::max<int64_t>(I, 1), w_ih, std::max<int64_t>(I, 1),
       fill ? T(1) : T(0), proj, std::max<int64_t>(W, 1));

  // 2. The recurrence, over batch slices (rows are independent; see for_batch_slices).
  AlignedArray<T> gh = aligned_array<T>(mode == RnnMode::gru ? N * GH : 0);
  std::vector<T> b_hn(mode == RnnMode::gru ? static_cast<size_t>(H) : 0, T(0));
  if (mode == RnnMode::gru && bias) std::copy(b_hh + 2 * H, b_hh + 3 * H, b_hn.begin());
  const int64_t ldh = std::max<int64_t>(H, 1), ldw = std::max<int64_t>(W, 1);
  const GemmFixedB<T> times_whh_t(true, H, GH, w_hh, ldh);  // h @ W_hh^T at every step
  const RnnCellFns<T>& cells = rnn_cells<T>();
  rnn_detail::for_batch_slices(N, [&](int64_t n0, int64_t n1, bool par) {
    const int64_t m = n1 - n0;
    if (m == 0) return;
    T* ghm = gh.get() + n0 * GH;
    for (int64_t s = 0; s < S; ++s) {
      const int64_t t = step_time(d, s), tp = prev_time(d, t);
      const T* hp = (s == 0 ? h0 : y + tp * N * H) + n0 * H;
      T* pt = proj + t * N * W + n0 * W;
      T* ht = y + t * N * H + n0 * H;
      if (mode == RnnMode::gru) {
        times_whh_t(false, m, T(1), hp, ldh, T(0), ghm, std::max<int64_t>(GH, 1));
        cells.gru(m, H, pt, ghm, b_hn.data(), hp, ht, par);
      } else {
        times_whh_t(false, m, T(1), hp, ldh, T(1), pt, ldw);
        if (mode == RnnMode::lstm) {
          const T* cp = s == 0 ? c0 + n0 * H : ws + tp * N * W + n0 * W + 4 * H;
          cells.lstm(m, H, pt, W, cp, s == 0 ? H : W, ht, b.data(), par);
        } else {
          cells.simple(m * H, mode == RnnMode::relu, ht, par);
        }
      }
    }
  });

  // 3. Final states.
  const int64_t last = step_time(d, S - 1);
  std::copy(y + last * N * H, y + (last + 1) * N * H, h_n);
  if (mode == RnnMode::lstm) {
    const T* c = ws + last * N * W + 4 * H;
    for (int64_t n = 0; n < N; ++n) std::copy(c + n * W, c + n * W + H, c_n + n * H);
  }
}

#define DLX_RNN_FORWARD(T)                                                                      \
  template void rnn_forward<T>(RnnMode, const RnnDims&, const T*, const T*, const T*, const T*, \
                               const T*, const T*, const T*, T*, T*, T*, T*);
DLX_INSTANTIATE(DLX_RNN_FORWARD)

}  // namespace dlx
