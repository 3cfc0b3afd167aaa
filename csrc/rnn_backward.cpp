// Backpropagation through time for the recurrent layers (see rnn.h).
#include <algorithm>
#include <memory>
#include <vector>

#include "blas.h"
#include "rnn.h"
#include "rnn_detail.h"
#include "threads.h"
#include "vmath.h"

#if defined(__AVX512F__)
#include "avx512_util.h"
#include "vmath512.h"
#endif

namespace dlx {
namespace {

using rnn_detail::kParallelWork;
using rnn_detail::prev_time;
using rnn_detail::step_time;

// One batch row of the LSTM backward: ws = [i, f, g, o, c] (row stride 5H); d = dh + gy is
// the gradient of h_t; dc becomes dL/dc_{t-1}; dg = pre-activation gate grads (4H).
template <typename T>
inline void lstm_row_backward(int64_t H, const T* __restrict ws, const T* __restrict c_prev,
                              const T* __restrict gy, const T* __restrict dh, T* __restrict dc,
                              T* __restrict dg) {
  for (int64_t j = 0; j < H; ++j) {
    const T i = ws[j], f = ws[H + j], gg = ws[2 * H + j], og = ws[3 * H + j];
    const T tc = vtanh(ws[4 * H + j]);
    const T dht = dh[j] + gy[j];
    const T dct = dc[j] + dht * og * (T(1) - tc * tc);
    dg[j] = dct * gg * i * (T(1) - i);
    dg[H + j] = dct * c_prev[j] * f * (T(1) - f);
    dg[2 * H + j] = dct * i * (T(1) - gg * gg);
    dg[3 * H + j] = dht * tc * og * (T(1) - og);
    dc[j] = dct * f;
  }
}

#if defined(__AVX512F__)
// float32 row by hand, 16 units per step (the tanh of c through vmath512.h).
inline void lstm_row_backward(int64_t H, const float* __restrict ws, const float* __restrict c_prev,
                              const float* __restrict gy, const float* __restrict dh,
                              float* __restrict dc, float* __restrict dg) {
  const __m512 one = _mm512_set1_ps(1.0f);
  for (int64_t j = 0; j < H; j += 16) {
    const __mmask16 m = avx512::lane_mask(H - j);
    auto ld = [&](const float* p) { return _mm512_maskz_loadu_ps(m, p + j); };
    const __m512 i = ld(ws), f = ld(ws + H), gg = ld(ws + 2 * H), og = ld(ws + 3 * H);
    const __m512 tc = v512::tanh(ld(ws + 4 * H));
    const __m512 dht = _mm512_add_ps(ld(dh), ld(gy));
    const __m512 dct =
        _mm512_fmadd_ps(_mm512_mul_ps(dht, og), _mm512_fnmadd_ps(tc, tc, one), ld(dc));
    _mm512_mask_storeu_ps(
        dg + j, m, _mm512_mul_ps(_mm512_mul_ps(_mm512_mul_ps(dct, gg), i), _mm512_sub_ps(one, i)));
    _mm512_mask_storeu_ps(
        dg + H + j, m,
        _mm512_mul_ps(_mm512_mul_ps(_mm512_mul_ps(dct, ld(c_prev)), f), _mm512_sub_ps(one, f)));
    _mm512_mask_storeu_ps(dg + 2 * H + j, m,
                          _mm512_mul_ps(_mm512_mul_ps(dct, i), _mm512_fnmadd_ps(gg, gg, one)));
    _mm512_mask_storeu_ps(
        dg + 3 * H + j, m,
        _mm512_mul_ps(_mm512_mul_ps(_mm512_mul_ps(dht, tc), og), _mm512_sub_ps(one, og)));
    _mm512_mask_storeu_ps(dc + j, m, _mm512_mul_ps(dct, f));
  }
}
#endif

template <typename T>
void lstm_cell_backward(int64_t n_rows, int64_t H, const T* ws, const T* cp, int64_t ldc,
                        const T* gy, const T* dh, T* dc, T* dg, bool par) {
#pragma omp parallel for num_threads(num_threads()) \
    schedule(static) if (par && n_rows * H > kParallelWork)
  for (int64_t n = 0; n < n_rows; ++n)
    lstm_row_backward(H, ws + n * 5 * H, cp + n * ldc, gy + n * H, dh + n * H, dc + n * H,
                      dg + n * 4 * H);
}

// GRU: dgi (3H) input-side and dgh (3H) hidden-side pre-activation grads of one row;
// dh becomes the direct part z * dh' of dL/dh_prev (the caller's GEMM adds the rest).
template <typename T>
inline void gru_row_backward(int64_t H, const T* __restrict ws, const T* __restrict gy,
                             const T* __restrict h_prev, T* __restrict dh, T* __restrict a,
                             T* __restrict b) {
  for (int64_t j = 0; j < H; ++j) {
    const T r = ws[j], z = ws[H + j], nn = ws[2 * H + j], lin = ws[3 * H + j];
    const T d = dh[j] + gy[j];
    const T da_n = d * (T(1) - z) * (T(1) - nn * nn);
    const T da_z = d * (h_prev[j] - nn) * z * (T(1) - z);
    const T da_r = da_n * lin * r * (T(1) - r);
    a[j] = da_r;
    b[j] = da_r;
    a[H + j] = da_z;
    b[H + j] = da_z;
    a[2 * H + j] = da_n;
    b[2 * H + j] = da_n * r;
    dh[j] = d * z;
  }
}

template <typename T>
void gru_cell_backward(int64_t n_rows, int64_t H, const T* ws, const T* gy, const T* hp, T* dh,
                       T* dgi, T* dgh, bool par) {
#pragma omp parallel for num_threads(num_threads()) \
    schedule(static) if (par && n_rows * H > kParallelWork)
  for (int64_t n = 0; n < n_rows; ++n)
    gru_row_backward(H, ws + n * 4 * H, gy + n * H, hp + n * H, dh + n * H, dgi + n * 3 * H,
                     dgh + n * 3 * H);
}

template <typename T>
void simple_cell_backward(int64_t count, bool relu, const T* h, const T* gy, const T* dh, T* dg,
                          bool par) {
#pragma omp parallel for num_threads(num_threads()) \
    schedule(static) if (par && count > kParallelWork)
  for (int64_t k = 0; k < count; ++k) {
    const T d = dh[k] + gy[k];
    dg[k] = relu ? (h[k] > T(0) ? d : T(0)) : d * (T(1) - h[k] * h[k]);
  }
}

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
  rnn_detail::check_blas_dims(d, GH, W);
  // Gate-gradient buffers for all steps, every element written by the BPTT loop (so left
  // uninitialised: zero-filling S*N*GH values would be a full extra memory pass).
  const size_t n_gates = static_cast<size_t>(S * N * GH);
  std::unique_ptr<T[]> dgi_buf(new T[n_gates]);
  std::unique_ptr<T[]> dgh_buf(mode == RnnMode::gru ? new T[n_gates] : nullptr);
  T* dgi = dgi_buf.get();
  T* dgh = mode == RnnMode::gru ? dgh_buf.get() : dgi;
  // dh: gradient reaching the current state from later steps (gh0 at the end).
  T* dh = gh0;
  if (gh_n != nullptr)
    std::copy(gh_n, gh_n + NH, dh);
  else
    std::fill(dh, dh + NH, T(0));
  if (mode == RnnMode::lstm) {
    if (gc_n != nullptr)
      std::copy(gc_n, gc_n + NH, gc0);
    else
      std::fill(gc0, gc0 + NH, T(0));
  }

  // BPTT over batch slices (rows are independent; see for_batch_slices).
  const GemmFixedB<T> times_whh(false, GH, H, w_hh, ldh);  // dgates @ W_hh at every step
  rnn_detail::for_batch_slices(N, [&](int64_t n0, int64_t n1, bool par) {
    const int64_t m = n1 - n0;
    if (m == 0) return;
    T* dhm = dh + n0 * H;
    for (int64_t s = S - 1; s >= 0; --s) {
      const int64_t t = step_time(d, s), tp = prev_time(d, t);
      const T* hp = (s == 0 ? h0 : y + tp * NH) + n0 * H;
      const T* gyt = gy + t * NH + n0 * H;
      const T* wst = ws + t * N * W + n0 * W;
      T* dgt = dgi + (t * N + n0) * GH;
      if (mode == RnnMode::gru) {
        T* dght = dgh + (t * N + n0) * GH;
        gru_cell_backward(m, H, wst, gyt, hp, dhm, dgt, dght, par);
        times_whh(false, m, T(1), dght, ldg, T(1), dhm, ldh);
        continue;
      }
      if (mode == RnnMode::lstm) {
        const T* cp = s == 0 ? c0 + n0 * H : ws + tp * N * W + n0 * W + 4 * H;
        lstm_cell_backward(m, H, wst, cp, s == 0 ? H : W, gyt, dhm, gc0 + n0 * H, dgt, par);
      } else {
        simple_cell_backward(m * H, mode == RnnMode::relu, y + t * NH + n0 * H, gyt, dhm, dgt, par);
      }
      // The cell has consumed dh; it now becomes dL/dh_{t-1} = dgates @ W_hh.
      times_whh(false, m, T(1), dgt, ldg, T(0), dhm, ldh);
    }
  });

  // Parameter and input gradients over all steps at once.
  const int64_t rows = S * N, ldi = std::max<int64_t>(I, 1);
  gemm(false, false, rows, I, GH, T(1), dgi, ldg, w_ih, ldi, T(0), gx, ldi);
  // h_prev of the steps after the first is y shifted by one step; the first step's is h0.
  const int64_t first = step_time(d, 0);
  if (dgh == dgi) {
    // One gate gradient for both weights (LSTM, RNN): [gw_ih | gw_hh] = dg^T @ [x | h_prev]
    // in one GEMM, so the S*N x GH gradient is read once instead of twice.
    const int64_t cat = I + H;
    std::unique_ptr<T[]> xh(new T[static_cast<size_t>(rows * cat)]);
    std::unique_ptr<T[]> gw_cat(new T[static_cast<size_t>(GH * cat)]);
#pragma omp parallel for num_threads(num_threads()) schedule(static) if (rows * cat > 32768)
    for (int64_t r = 0; r < rows; ++r) {
      const int64_t t = r / N, n = r % N;
      const T* hp = t == first ? h0 + n * H : y + prev_time(d, t) * NH + n * H;
      std::copy_n(x + r * I, I, xh.get() + r * cat);
      std::copy_n(hp, H, xh.get() + r * cat + I);
    }
    gemm(true, false, GH, cat, rows, T(1), dgi, ldg, xh.get(), cat, T(0), gw_cat.get(), cat);
    for (int64_t g = 0; g < GH; ++g) {
      std::copy_n(gw_cat.get() + g * cat, I, gw_ih + g * I);
      std::copy_n(gw_cat.get() + g * cat + I, H, gw_hh + g * H);
    }
  } else {
    gemm(true, false, GH, I, rows, T(1), dgi, ldg, x, ldi, T(0), gw_ih, ldi);
    const T* dg_rest = dgh + (d.reverse ? 0 : N * GH);
    const T* h_rest = y + (d.reverse ? NH : 0);
    gemm(true, false, GH, H, (S - 1) * N, T(1), dg_rest, ldg, h_rest, ldh, T(0), gw_hh, ldh);
    gemm(true, false, GH, H, N, T(1), dgh + first * N * GH, ldg, h0, ldh, T(1), gw_hh, ldh);
  }
  if (gb_ih != nullptr) column_sums(dgi, gb_ih, rows, GH);
  if (gb_hh != nullptr) {
    if (dgh == dgi && gb_ih != nullptr)
      std::copy_n(gb_ih, GH, gb_hh);  // the same sums
    else
      column_sums(dgh, gb_hh, rows, GH);
  }
}

#define DLX_RNN_BACKWARD(T)                                                                      \
  template void rnn_backward<T>(RnnMode, const RnnDims&, const T*, const T*, const T*, const T*, \
                                const T*, const T*, const T*, const T*, const T*, const T*, T*,  \
                                T*, T*, T*, T*, T*, T*);
DLX_INSTANTIATE(DLX_RNN_BACKWARD)

}  // namespace dlx
