// Helpers shared by rnn.cpp and rnn_backward.cpp (not part of the kernel API).
#pragma once

#include <omp.h>

#include <cstdint>

#include "blas.h"
#include "rnn.h"
#include "threads.h"

namespace dlx::rnn_detail {

// Step order: forward t = 0..S-1, reverse t = S-1..0; prev_time(t) is the step before t.
inline int64_t step_time(const RnnDims& d, int64_t s) { return d.reverse ? d.steps - 1 - s : s; }
inline int64_t prev_time(const RnnDims& d, int64_t t) { return d.reverse ? t + 1 : t - 1; }

// Every GEMM dimension and leading dimension of the recurrence fits the BLAS int (throws
// here, before any OpenMP region, rather than inside one).
inline void check_blas_dims(const RnnDims& d, int64_t gh, int64_t w) {
  for (int64_t v : {d.steps * d.batch, d.input, d.hidden, gh, w}) blas_int(v, "rnn");
}

// Runs f(k, p, inner_parallel) for the batch slices of n rows: slice k of p covers rows
// [n * k / p, n * (k + 1) / p). Batch rows are independent through the whole recurrence, so
// with a large enough batch each of p threads runs every step for its own slice (serial
// BLAS, no barrier per step; f may still meet the team at `omp barrier`). Otherwise one call
// with k = 0, p = 1 covers all rows and the per-step GEMMs / elementwise loops use the
// threads themselves.
template <typename F>
void for_batch_team(int64_t n, F f) {
  const int nt = num_threads();
  if (nt > 1 && n >= 8 * static_cast<int64_t>(nt)) {
    BlasSerialScope serial;
#pragma omp parallel num_threads(nt)
    f(omp_get_thread_num(), omp_get_num_threads(), false);
  } else {
    f(0, 1, true);
  }
}

// for_batch_team with f(n0, n1, inner_parallel) on the rows of each slice.
template <typename F>
void for_batch_slices(int64_t n, F f) {
  for_batch_team(n, [&](int k, int p, bool par) { f(n * k / p, n * (k + 1) / p, par); });
}

// BPTT for RNN tanh / relu and LSTM (rnn_backward_gates.cpp): per step one GEMM of the gate
// gradients against [W_hh | W_ih]; weight gradients and bias sums per chunk of steps. gc0
// already holds grad_c_n (or zeros) for LSTM; other arguments as rnn_backward.
template <typename T>
void backward_shared_gates(RnnMode mode, const RnnDims& d, const T* gy, const T* gh_n, const T* x,
                           const T* w_ih, const T* w_hh, const T* h0, const T* c0, const T* y,
                           const T* ws, T* gx, T* gh0, T* gc0, T* gw_ih, T* gw_hh, T* gb_ih,
                           T* gb_hh);

}  // namespace dlx::rnn_detail
