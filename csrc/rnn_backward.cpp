// Backpropagation through time for the recurrent layers (see rnn.h): the GRU here, RNN and
// LSTM in rnn_backward_gates.cpp.
#include <algorithm>

#include "blas.h"
#include "rnn.h"
#include "rnn_cells.h"
#include "rnn_detail.h"
#include "threads.h"

namespace dlx {
namespace {

using rnn_detail::prev_time;
using rnn_detail::step_time;

// out[j] = sum over rows of a[:, j], accumulated in double, OpenMP over column blocks.
template <typename T>
void column_sums(const T* a, T* out, int64_t rows, int64_t cols) {
  constexpr int64_t kBlock = 64;
  const int64_t blocks = (cols + kBlock - 1) / kBlock;
#pragma omp parallel for num_threads(num_threads()) schedule(static) if (rows * cols > 32768)
  for (int64_t b = 0; b < blocks; ++b) {
    const int64_t j0 = b * kBlock, j1 = std::min(cols, j0 + kBlock);
    double acc[kBlock] = {};
    for (int64_t r = 0; r < rows; ++r) {
      const T* row = a + r * cols;
      for (int64_t j = j0; j < j1; ++j) acc[j - j0] += row[j];
    }
    for (int64_t j = j0; j < j1; ++j) out[j] = static_cast<T>(acc[j - j0]);
  }
}

}  // namespace

template <typename T>
void rnn_backward(RnnMode mode, const RnnDims& d, const T* gy, const T* gh_n, const T* gc_n,
                  const T* x, const T* w_ih, const T* w_hh, const T* h0, const T* c0, const T* y,
                  const T* ws, T* gx, T* gh0, T* gc0, T* gw_ih, T* gw_hh, T* gb_ih, T* gb_hh) {
  const int64_t S = d.steps, N = d.batch, I = d.input, H = d.hidden;
  const int64_t GH = rnn_gate_count(mode) * H, W = rnn_workspace_width(mode, H);
  const int64_t NH = N * H, ldh = std::max<int64_t>(H, 1), ldg = std::max<int64_t>(GH, 1);
  // GH: the gate products; H + I: the [W_hh | W_ih] operand of the RNN/LSTM backward.
  rnn_detail::check_blas_dims(d, std::max(GH, H + I), W);
  if (mode == RnnMode::lstm) {
    if (gc_n != nullptr)
      std::copy(gc_n, gc_n + NH, gc0);
    else
      std::fill(gc0, gc0 + NH, T(0));
  }
  if (mode != RnnMode::gru)
    return rnn_detail::backward_shared_gates(mode, d, gy, gh_n, x, w_ih, w_hh, h0, c0, y, ws, gx,
                                             gh0, gc0, gw_ih, gw_hh, gb_ih, gb_hh);

  // GRU: separate input-side and hidden-side gate gradients (r scales the hidden part of n),
  // for all steps, every element written by the BPTT loop (left uninitialised).
  AlignedArray<T> dgi_buf = aligned_array<T>(S * N * GH);
  AlignedArray<T> dgh_buf = aligned_array<T>(S * N * GH);
  T* dgi = dgi_buf.get();
  T* dgh = dgh_buf.get();
  // dh: gradient reaching the current state from later steps (gh0 at the end).
  T* dh = gh0;
  if (gh_n != nullptr)
    std::copy(gh_n, gh_n + NH, dh);
  else
    std::fill(dh, dh + NH, T(0));

  // BPTT over batch slices (rows are independent; see for_batch_slices).
  const GemmFixedB<T> times_whh(false, GH, H, w_hh, ldh);  // dgates @ W_hh at every step
  rnn_detail::for_batch_slices(N, [&](int64_t n0, int64_t n1, bool par) {
    const int64_t m = n1 - n0;
    if (m == 0) return;
    T* dhm = dh + n0 * H;
    for (int64_t s = S - 1; s >= 0; --s) {
      const int64_t t = step_time(d, s), tp = prev_time(d, t);
      const T* hp = (s == 0 ? h0 : y + tp * NH) + n0 * H;
      T* dght = dgh + (t * N + n0) * GH;
      rnn_cells<T>().gru_backward(m, H, ws + t * N * W + n0 * W, gy + t * NH + n0 * H, hp, dhm,
                                  dgi + (t * N + n0) * GH, dght, par);
      times_whh(false, m, T(1), dght, ldg, T(1), dhm, ldh);
    }
  });

  // Parameter and input gradients over all steps at once.
  const int64_t rows = S * N, ldi = std::max<int64_t>(I, 1);
  gemm(false, false, rows, I, GH, T(1), dgi, ldg, w_ih, ldi, T(0), gx, ldi);
  gemm(true, false, GH, I, rows, T(1), dgi, ldg, x, ldi, T(0), gw_ih, ldi);
  // h_prev of the steps after the first is y shifted by one step; the first step's is h0.
  const int64_t first = step_time(d, 0);
  const T* dg_rest = dgh + (d.reverse ? 0 : N * GH);
  const T* h_rest = y + (d.reverse ? NH : 0);
  gemm(true, false, GH, H, (S - 1) * N, T(1), dg_rest, ldg, h_rest, ldh, T(0), gw_hh, ldh);
  gemm(true, false, GH, H, N, T(1), dgh + first * N * GH, ldg, h0, ldh, T(1), gw_hh, ldh);
  if (gb_ih != nullptr) column_sums(dgi, gb_ih, rows, GH);
  if (gb_hh != nullptr) column_sums(dgh, gb_hh, rows, GH);
}

#define DLX_RNN_BACKWARD(T)                                                                      \
  template void rnn_backward<T>(RnnMode, const RnnDims&, const T*, const T*, const T*, const T*, \
                                const T*, const T*, const T*, const T*, const T*, const T*, T*,  \
                                T*, T*, T*, T*, T*, T*);
DLX_INSTANTIATE(DLX_RNN_BACKWARD)

}  // namespace dlx
