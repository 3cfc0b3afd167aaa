// Forward pass of the recurrent layers (see rnn.h).
#include <algorithm>
#include <vector>

#include "blas.h"
#include "rnn.h"
#include "threads.h"
#include "vmath.h"

namespace dlx {
namespace {

constexpr int64_t kParallelWork = 16384;  // elementwise gate math is ~10 flops per element

// Step order: forward t = 0..S-1, reverse t = S-1..0; prev(t) is the step before t.
inline int64_t step_time(const RnnDims& d, int64_t s) { return d.reverse ? d.steps - 1 - s : s; }
inline int64_t prev_time(const RnnDims& d, int64_t t) { return d.reverse ? t + 1 : t - 1; }

// One batch row of the LSTM cell; restrict pointers (one per gate) let GCC vectorise.
template <typename T>
inline void lstm_row(int64_t H, T* __restrict gi, T* __restrict gf, T* __restrict gg,
                     T* __restrict go, T* __restrict c, const T* __restrict c_prev,
                     T* __restrict h) {
  for (int64_t j = 0; j < H; ++j) {
    const T i = vsigmoid(gi[j]), f = vsigmoid(gf[j]), g = vtanh(gg[j]), o = vsigmoid(go[j]);
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
void lstm_cell(int64_t n_rows, int64_t H, T* p, int64_t ld, const T* cp, int64_t ldc, T* h) {
#pragma omp parallel for num_threads(num_threads()) schedule(static) if (n_rows * H > kParallelWork)
  for (int64_t n = 0; n < n_rows; ++n) {
    T* g = p + n * ld;
    lstm_row(H, g, g + H, g + 2 * H, g + 3 * H, g + 4 * H, cp + n * ldc, h + n * H);
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
void gru_cell(int64_t n_rows, int64_t H, T* p, const T* gh, const T* b_hn, const T* hp, T* h) {
  const int64_t ld = 4 * H;
#pragma omp parallel for num_threads(num_threads()) schedule(static) if (n_rows * H > kParallelWork)
  for (int64_t n = 0; n < n_rows; ++n) {
    T* g = p + n * ld;
    gru_row(H, g, g + H, g + 2 * H, g + 3 * H, gh + n * 3 * H, b_hn, hp + n * H, h + n * H);
  }
}

template <typename T>
void simple_cell(int64_t count, bool relu, T* h) {
#pragma omp parallel for num_threads(num_threads()) schedule(static) if (count > kParallelWork)
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

  // 1. Input projection of all steps: proj[:, 0:GH] = x @ W_ih^T + b_ih + b_hh (GRU: not b_hn).
  if (bias) {
    const int64_t fused = mode == RnnMode::gru ? 2 * H : GH;
    std::vector<T> b(static_cast<size_t>(GH));
    for (int64_t j = 0; j < GH; ++j) b[j] = b_ih[j] + (j < fused ? b_hh[j] : T(0));
#pragma omp parallel for num_threads(num_threads()) schedule(static) if (rows * GH > 32768)
    for (int64_t r = 0; r < rows; ++r) std::copy(b.begin(), b.end(), proj + r * W);
  }
  gemm(false, true, rows, GH, I, T(1), x, std::max<int64_t>(I, 1), w_ih, std::max<int64_t>(I, 1),
       bias ? T(1) : T(0), proj, std::max<int64_t>(W, 1));

  // 2. The recurrence.
  std::vector<T> gh(mode == RnnMode::gru ? static_cast<size_t>(N * GH) : 0);
  std::vector<T> b_hn(mode == RnnMode::gru ? static_cast<size_t>(H) : 0, T(0));
  if (mode == RnnMode::gru && bias) std::copy(b_hh + 2 * H, b_hh + 3 * H, b_hn.begin());
  for (int64_t s = 0; s < S; ++s) {
    const int64_t t = step_time(d, s), tp = prev_time(d, t);
    const T* hp = s == 0 ? h0 : y + tp * N * H;
    T* pt = proj + t * N * W;
    T* ht = y + t * N * H;
    if (mode == RnnMode::gru) {
      gemm(false, true, N, GH, H, T(1), hp, std::max<int64_t>(H, 1), w_hh,
           std::max<int64_t>(H, 1), T(0), gh.data(), std::max<int64_t>(GH, 1));
      gru_cell(N, H, pt, gh.data(), b_hn.data(), hp, ht);
    } else {
      gemm(false, true, N, GH, H, T(1), hp, std::max<int64_t>(H, 1), w_hh,
           std::max<int64_t>(H, 1), T(1), pt, std::max<int64_t>(W, 1));
      if (mode == RnnMode::lstm) {
        const T* cp = s == 0 ? c0 : ws + tp * N * W + 4 * H;
        lstm_cell(N, H, pt, W, cp, s == 0 ? H : W, ht);
      } else {
        simple_cell(N * H, mode == RnnMode::relu, ht);
      }
    }
  }

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
