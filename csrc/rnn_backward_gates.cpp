// Backpropagation through time for the cells whose one gate gradient feeds both weights
// (RNN tanh / relu, LSTM); rnn_backward (rnn_backward.cpp) calls backward_shared_gates.
#include <algorithm>
#include <vector>

#include "blas.h"
#include "rnn.h"
#include "rnn_cells.h"
#include "rnn_detail.h"
#include "threads.h"

namespace dlx::rnn_detail {
namespace {

// Rows of gate gradients per chunk of the weight-gradient accumulation (1 MB of float32
// at 4H = 1024): the chunk is consumed while it is still in cache instead of going through
// DRAM as one S*N x GH matrix three times (weight gradients, input gradient, bias sums).
constexpr int64_t kChunkRows = 256;

}  // namespace

// Backward of the cells with one gate gradient for both weights (RNN tanh / relu, LSTM).
// Per step: the cell turns dh into dg_t, and one GEMM against [W_hh | W_ih] (packed once)
// gives both dL/dh_{t-1} and the input gradient of step t. Every chunk of about kChunkRows
// rows then adds its part of [gw_ih | gw_hh]^T = [x | h_prev]^T @ dg and of the bias sums.
// Chunks are cut by step and summed in a fixed order, so the bits do not depend on the
// thread count; with batch slices (see for_batch_team) each thread runs the steps for its
// rows, meets the others at the end of a chunk and sums its share of the columns. Two chunk
// buffers alternate, so one barrier per chunk suffices.

template <typename T>
void backward_shared_gates(RnnMode mode, const RnnDims& d, const T* gy, const T* gh_n, const T* x,
                           const T* w_ih, const T* w_hh, const T* h0, const T* c0, const T* y,
                           const T* ws, T* gx, T* gh0, T* gc0, T* gw_ih, T* gw_hh, T* gb_ih,
                           T* gb_hh) {
  const int64_t S = d.steps, N = d.batch, I = d.input, H = d.hidden;
  const int64_t GH = rnn_gate_count(mode) * H, W = rnn_workspace_width(mode, H);
  const int64_t NH = N * H, HI = H + I;  // HI: row width of [dh | gx_t], and of [x | h_prev]
  const int64_t cs = std::max<int64_t>(1, kChunkRows / std::max<int64_t>(N, 1));  // steps
  const int64_t chunk_rows = cs * N, last_chunk = (S - 1) / cs;
  const bool lstm = mode == RnnMode::lstm;
  // [W_hh | W_ih] as one (GH, H + I) operand.
  AlignedArray<T> wcat = aligned_array<T>(GH * HI);
  for (int64_t g = 0; g < GH; ++g) {
    std::copy_n(w_hh + g * H, H, wcat.get() + g * HI);
    std::copy_n(w_ih + g * I, I, wcat.get() + g * HI + H);
  }
  const GemmFixedB<T> times_wcat(false, GH, HI, wcat.get(), HI);
  const RnnCellFns<T>& cells = rnn_cells<T>();
  // dhx[n] = [dh | gx_t]: the gradient reaching h from later steps, then the GEMM's output.
  AlignedArray<T> dhx = aligned_array<T>(N * HI);
  for (int64_t n = 0; n < N; ++n) {
    T* row = dhx.get() + n * HI;
    if (gh_n != nullptr)
      std::copy_n(gh_n + n * H, H, row);
    else
      std::fill_n(row, H, T(0));
  }
  AlignedArray<T> dg_buf = aligned_array<T>(2 * chunk_rows * GH);
  AlignedArray<T> xh_buf = aligned_array<T>(2 * chunk_rows * HI);
  AlignedArray<T> gw_t = aligned_array<T>(HI * GH);  // [gw_ih | gw_hh]^T
  std::vector<double> bias_sum(gb_ih != nullptr || gb_hh != nullptr ? GH : 0, 0.0);
  const int64_t panels = (GH + 31) / 32;  // column shares of the chunk sums, 32 wide

  auto body = [&](int k, int p, bool par) {  // see for_batch_team
    const int64_t n0 = N * k / p, n1 = N * (k + 1) / p, m = n1 - n0;
    const int64_t j0 = std::min(GH, 32 * (panels * k / p));
    const int64_t j1 = std::min(GH, 32 * (panels * (k + 1) / p));
    T* dhm = dhx.get() + n0 * HI;
    for (int64_t s = S - 1; s >= 0; --s) {
      const int64_t c = s / cs, row0 = (s - c * cs) * N;
      T* dg_c = dg_buf.get() + (c & 1) * chunk_rows * GH;
      T* xh_c = xh_buf.get() + (c & 1) * chunk_rows * HI;
      const int64_t t = step_time(d, s), tp = prev_time(d, t);
      const T* hp = (s == 0 ? h0 : y + tp * NH) + n0 * H;
      const T* gyt = gy + t * NH + n0 * H;
      T* dgt = dg_c + (row0 + n0) * GH;
      if (lstm) {
        const T* cp = s == 0 ? c0 + n0 * H : ws + tp * N * W + n0 * W + 4 * H;
        cells.lstm_backward(m, H, ws + t * N * W + n0 * W, cp, s == 0 ? H : W, gyt, dhm, HI,
                            gc0 + n0 * H, dgt, par);
      } else {
        cells.simple_backward(m, H, mode == RnnMode::relu, y + t * NH + n0 * H, gyt, dhm, HI, dgt,
                              par);
      }
      // The cell has consumed dh: [dL/dh_{t-1} | gx_t] = dg_t @ [W_hh | W_ih].
      times_wcat(false, m, T(1), dgt, GH, T(0), dhm, HI);
      for (int64_t n = 0; n < m; ++n) {
        std::copy_n(dhm + n * HI + H, I, gx + (t * N + n0 + n) * I);
        T* xh = xh_c + (row0 + n0 + n) * HI;
        std::copy_n(x + (t * N + n0 + n) * I, I, xh);
        std::copy_n(hp + n * H, H, xh + I);
      }
      if (s != c * cs) continue;
      // Chunk c is complete (steps c*cs .. c*cs + cs - 1): add its sums for columns [j0, j1).
      if (p > 1) {
#pragma omp barrier
      }
      const int64_t rows = (std::min(S, (c + 1) * cs) - c * cs) * N;
      gemm(true, false, HI, j1 - j0, rows, T(1), xh_c, HI, dg_c + j0, GH,
           c == last_chunk ? T(0) : T(1), gw_t.get() + j0, GH);
      if (!bias_sum.empty()) {
        for (int64_t r = 0; r < rows; ++r) {
          const T* row = dg_c + r * GH;
          for (int64_t j = j0; j < j1; ++j) bias_sum[j] += row[j];
        }
      }
    }
  };
  for_batch_team(N, body);

  for (int64_t n = 0; n < N; ++n) std::copy_n(dhx.get() + n * HI, H, gh0 + n * H);
  // gw_t = [x | h_prev]^T @ dg: rows 0..I-1 are gw_ih^T, rows I..I+H-1 gw_hh^T. Transposed
  // in strips of 32 gate rows (each read of gw_t is then 32 contiguous values).
  const T* g = gw_t.get();
  const int64_t strips = (GH + 31) / 32;
#pragma omp parallel for num_threads(num_threads()) schedule(static) if (GH * HI > 65536)
  for (int64_t b = 0; b < strips; ++b) {
    const int64_t r0 = 32 * b, r1 = std::min(GH, r0 + 32);
    for (int64_t i = 0; i < HI; ++i) {
      const T* src = g + i * GH;
      T* dst = i < I ? gw_ih + i : gw_hh + (i - I);
      const int64_t ld = i < I ? I : H;
      for (int64_t r = r0; r < r1; ++r) dst[r * ld] = src[r];
    }
  }
  for (int64_t j = 0; j < static_cast<int64_t>(bias_sum.size()); ++j) {
    if (gb_ih != nullptr) gb_ih[j] = static_cast<T>(bias_sum[j]);
    if (gb_hh != nullptr) gb_hh[j] = static_cast<T>(bias_sum[j]);
  }
}

#define DLX_RNN_BACKWARD_SHARED(T)                                                              \
  template void backward_shared_gates<T>(RnnMode, const RnnDims&, const T*, const T*, const T*, \
                                         const T*, const T*, const T*, const T*, const T*,      \
                                         const T*, T*, T*, T*, T*, T*, T*, T*);
DLX_INSTANTIATE(DLX_RNN_BACKWARD_SHARED)

}  // namespace dlx::rnn_detail
