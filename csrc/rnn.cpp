// Forward pass of the recurrent layers (see rnn.h).
#include "rnn.h"

#include <algorithm>
#include <type_traits>
#include <vector>

#include "blas.h"
#include "rnn_cell_kernels.h"
#include "rnn_detail.h"
#include "threads.h"
#include "vmath.h"

namespace dlx {

KernelFamily<RnnCellKernels> rnn_cell_kernels{"lstm_cell"};

namespace {

using rnn_detail::kParallelWork;
using rnn_detail::prev_time;
using rnn_detail::step_time;

// One batch row of the LSTM cell; restrict pointers (one per gate) let GCC vectorise.
// b: the 4H combined biases (b_ih + b_hh) added to the gate pre-activations here, where the
// gates are read anyway, instead of filling the projection with them first.
template <typename T>
inline void lstm_row(int64_t H, T* __restrict gi, T* __restrict gf, T* __restrict gg,
                     T* __restrict go, T* __restrict c, const T* __restrict c_prev, T* __restrict h,
                     const T* __restrict b) {
  for (int64_t j = 0; j < H; ++j) {
    const T i = vsigmoid(gi[j] + b[j]), f = vsigmoid(gf[j] + b[H + j]);
    const T g = vtanh(gg[j] + b[2 * H + j]), o = vsigmoid(go[j] + b[3 * H + j]);
    const T cj = f * c_prev[j] + i * g;
    gi[j] = i;
    gf[j] = f;
    gg[j] = g;
    go[j] = o;
    c[j] = cj;
    h[j] = o * vtanh(cj);
  }
}

template <typename T>
void lstm_cell(int64_t n_rows, int64_t H, T* p, int64_t ld, const T* cp, int64_t ldc, T* h,
               const T* b, bool par) {
  const RnnCellKernels* k = std::is_same_v<T, float> ? rnn_cell_kernels.get() : nullptr;
#pragma omp parallel for num_threads(num_threads()) \
    schedule(static) if (par && n_rows * H > kParallelWork)
  for (int64_t n = 0; n < n_rows; ++n) {
    T* g = p + n * ld;
    if constexpr (std::is_same_v<T, float>) {
      if (k != nullptr) {
        k->lstm_row(H, g, cp + n * ldc, h + n * H, b);
        continue;
      }
    }
    lstm_row(H, g, g + H, g + 2 * H, g + 3 * H, g + 4 * H, cp + n * ldc, h + n * H, b);
  }
}

template <typename T>
inline void gru_row(int64_t H, T* __restrict gr, T* __restrict gz, T* __restrict gn,
                    T* __restrict glin, const T* __restrict q, const T* __restrict b_hn,
                    const T* __restrict h_prev, T* __restrict h) {
  for (int64_t j = 0; j < H; ++j) {
    const T r = vsigmoid(gr[j] + q[j]), z = vsigmoid(gz[j] + q[H + j]);
    const T lin = q[2 * H + j] + b_hn[j];
    const T nn = vtanh(gn[j] + r * lin);
    gr[j] = r;
    gz[j] = z;
    gn[j] = nn;
    glin[j] = lin;
    h[j] = (T(1) - z) * nn + z * h_prev[j];
  }
}

// b_hn: the n-gate part of bias_hh (zeros when there is no bias).
template <typename T>
void gru_cell(int64_t n_rows, int64_t H, T* p, const T* gh, const T* b_hn, const T* hp, T* h,
              bool par) {
  const int64_t ld = 4 * H;
#pragma omp parallel for num_threads(num_threads()) \
    schedule(static) if (par && n_rows * H > kParallelWork)
  for (int64_t n = 0; n < n_rows; ++n) {
    T* g = p + n * ld;
    gru_row(H, g, g + H, g + 2 * H, g + 3 * H, gh + n * 3 * H, b_hn, hp + n * H, h + n * H);
  }
}

template <typename T>
void simple_cell(int64_t count, bool relu, T* h, bool par) {
#pragma omp parallel for num_threads(num_threads()) \
    schedule(static) if (par && count > kParallelWork)
  for (int64_t k = 0; k < count; ++k) h[k] = relu ? (h[k] > T(0) ? h[k] : T(0)) : vtanh(h[k]);
}

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
        gru_cell(m, H, pt, ghm, b_hn.data(), hp, ht, par);
      } else {
        times_whh_t(false, m, T(1), hp, ldh, T(1), pt, ldw);
        if (mode == RnnMode::lstm) {
          const T* cp = s == 0 ? c0 + n0 * H : ws + tp * N * W + n0 * W + 4 * H;
          lstm_cell(m, H, pt, W, cp, s == 0 ? H : W, ht, b.data(), par);
        } else {
          simple_cell(m * H, mode == RnnMode::relu, ht, par);
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
