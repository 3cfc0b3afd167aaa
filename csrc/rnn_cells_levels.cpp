// The recurrent cells' elementwise math (rnn_cells.h), compiled once per ISA level: at
// avx2 / avx512 the float32 LSTM and GRU rows and the tanh cell run by hand on the level's
// vectors; the rest (float64, the backward of the RNN and GRU cells) is the portable code,
// which the compiler vectorises for the level.
#include <omp.h>

#include <cstdint>

#include "rnn_cells.h"
#include "threads.h"
#include "vmath.h"

#if DLX_ISA_LEVEL == 2
#include "simd_avx512.h"
#include "vmath_simd.h"
#define DLX_CELLS_SIMD 1
#elif DLX_ISA_LEVEL == 1
#include "simd_avx2.h"
#include "vmath_simd.h"
#define DLX_CELLS_SIMD 1
#else
#define DLX_CELLS_SIMD 0
#endif

namespace dlx::DLX_ISA_NS {
namespace {

// Elementwise gate math is ~10 flops per element: worth threads above this many.
constexpr int64_t kParallelWork = 16384;

// One batch row of the LSTM cell; restrict pointers (one per gate) let GCC vectorise.
// b: the 4H combined biases (b_ih + b_hh) added to the gate pre-activations here, where the
// gates are read anyway, instead of filling the projection with them first.
template <typename T>
void lstm_row(int64_t H, T* ws, const T* __restrict c_prev, T* __restrict h,
              const T* __restrict b) {
  T* __restrict gi = ws;
  T* __restrict gf = ws + H;
  T* __restrict gg = ws + 2 * H;
  T* __restrict go = ws + 3 * H;
  T* __restrict c = ws + 4 * H;
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

// ws = [i, f, g, o, c] of the forward pass; d = dh + gy is the gradient of h_t.
template <typename T>
void lstm_row_backward(int64_t H, const T* __restrict ws, const T* __restrict c_prev,
                       const T* __restrict gy, const T* __restrict dh, T* __restrict dc,
                       T* __restrict dg, int64_t) {
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

template <typename T>
void gru_row(int64_t H, T* ws, const T* __restrict q, const T* __restrict b_hn,
             const T* __restrict h_prev, T* __restrict h) {
  T* __restrict gr = ws;
  T* __restrict gz = ws + H;
  T* __restrict gn = ws + 2 * H;
  T* __restrict glin = ws + 3 * H;
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

#if DLX_CELLS_SIMD
#if DLX_ISA_LEVEL == 2
using V = simd::Avx512;
#else
using V = simd::Avx2;
#endif
using F = V::F;
constexpr int64_t kL = V::kLanes;

// float32 rows by hand (GCC's vectorisation of the scalar rows keeps two branches of every
// tanh and a division per sigmoid).
template <>
void lstm_row<float>(int64_t H, float* ws, const float* __restrict c_prev, float* __restrict h,
                     const float* __restrict b) {
  for (int64_t j = 0; j < H; j += kL) {
    const int64_t n = H - j;
    auto ld = [&](const float* p) { return V::load(p + j, n); };
    const F i = simd::sigmoid<V>(V::add(ld(ws), ld(b)));
    const F f = simd::sigmoid<V>(V::add(ld(ws + H), ld(b + H)));
    const F g = simd::tanh<V>(V::add(ld(ws + 2 * H), ld(b + 2 * H)));
    const F o = simd::sigmoid<V>(V::add(ld(ws + 3 * H), ld(b + 3 * H)));
    const F cj = V::fmadd(f, ld(c_prev), V::mul(i, g));
    V::store(ws + j, i, n);
    V::store(ws + H + j, f, n);
    V::store(ws + 2 * H + j, g, n);
    V::store(ws + 3 * H + j, o, n);
    V::store(ws + 4 * H + j, cj, n);
    V::store(h + j, V::mul(o, simd::tanh<V>(cj)), n);
  }
}

template <>
void lstm_row_backward<float>(int64_t H, const float* __restrict ws, const float* __restrict c_prev,
                              const float* __restrict gy, const float* __restrict dh,
                              float* __restrict dc, float* __restrict dg, int64_t ldc) {
  const F one = V::set1(1.0f);
  for (int64_t j = 0; j < H; j += kL) {
    const int64_t n = H - j;
    auto ld = [&](const float* p) { return V::load(p + j, n); };
    // The rows two steps ahead (the loop over the batch walks them next).
    for (int64_t q = 0; q < 5; ++q) V::prefetch(ws + 10 * H + q * H + j);
    V::prefetch(c_prev + 2 * ldc + j);
    const F i = ld(ws), f = ld(ws + H), gg = ld(ws + 2 * H), og = ld(ws + 3 * H);
    const F tc = simd::tanh<V>(ld(ws + 4 * H));
    const F dht = V::add(ld(dh), ld(gy));
    const F dct = V::fmadd(V::mul(dht, og), V::fnmadd(tc, tc, one), ld(dc));
    V::store(dg + j, V::mul(V::mul(V::mul(dct, gg), i), V::sub(one, i)), n);
    V::store(dg + H + j, V::mul(V::mul(V::mul(dct, ld(c_prev)), f), V::sub(one, f)), n);
    V::store(dg + 2 * H + j, V::mul(V::mul(dct, i), V::fnmadd(gg, gg, one)), n);
    V::store(dg + 3 * H + j, V::mul(V::mul(V::mul(dht, tc), og), V::sub(one, og)), n);
    V::store(dc + j, V::mul(dct, f), n);
  }
}

template <>
void gru_row<float>(int64_t H, float* ws, const float* __restrict q, const float* __restrict b_hn,
                    const float* __restrict h_prev, float* __restrict h) {
  const F one = V::set1(1.0f);
  for (int64_t j = 0; j < H; j += kL) {
    const int64_t n = H - j;
    auto ld = [&](const float* p) { return V::load(p + j, n); };
    const F r = simd::sigmoid<V>(V::add(ld(ws), ld(q)));
    const F z = simd::sigmoid<V>(V::add(ld(ws + H), ld(q + H)));
    const F lin = V::add(ld(q + 2 * H), ld(b_hn));
    const F nn = simd::tanh<V>(V::fmadd(r, lin, ld(ws + 2 * H)));
    V::store(ws + j, r, n);
    V::store(ws + H + j, z, n);
    V::store(ws + 2 * H + j, nn, n);
    V::store(ws + 3 * H + j, lin, n);
    V::store(h + j, V::fmadd(z, ld(h_prev), V::mul(V::sub(one, z), nn)), n);
  }
}
#endif

template <typename T>
void lstm_cell(int64_t n_rows, int64_t H, T* p, int64_t ld, const T* cp, int64_t ldc, T* h,
               const T* b, bool par) {
#pragma omp parallel for num_threads(num_threads()) \
    schedule(static) if (par && n_rows * H > kParallelWork)
  for (int64_t n = 0; n < n_rows; ++n) lstm_row(H, p + n * ld, cp + n * ldc, h + n * H, b);
}

template <typename T>
void gru_cell(int64_t n_rows, int64_t H, T* p, const T* gh, const T* b_hn, const T* hp, T* h,
              bool par) {
#pragma omp parallel for num_threads(num_threads()) \
    schedule(static) if (par && n_rows * H > kParallelWork)
  for (int64_t n = 0; n < n_rows; ++n)
    gru_row(H, p + n * 4 * H, gh + n * 3 * H, b_hn, hp + n * H, h + n * H);
}

template <typename T>
void simple_cell(int64_t count, bool relu, T* h, bool par) {
#if DLX_CELLS_SIMD
  if constexpr (std::is_same_v<T, float>) {
    if (!relu) {
      const int64_t blocks = (count + kL - 1) / kL;
#pragma omp parallel for num_threads(num_threads()) \
    schedule(static) if (par && count > kParallelWork)
      for (int64_t k = 0; k < blocks; ++k)
        V::store(h + k * kL, simd::tanh<V>(V::load(h + k * kL, count - k * kL)), count - k * kL);
      return;
    }
  }
#endif
#pragma omp parallel for num_threads(num_threads()) \
    schedule(static) if (par && count > kParallelWork)
  for (int64_t k = 0; k < count; ++k) h[k] = relu ? (h[k] > T(0) ? h[k] : T(0)) : vtanh(h[k]);
}

template <typename T>
void lstm_cell_backward(int64_t n_rows, int64_t H, const T* ws, const T* cp, int64_t ldc,
                        const T* gy, const T* dh, int64_t ldd, T* dc, T* dg, bool par) {
#pragma omp parallel for num_threads(num_threads()) \
    schedule(static) if (par && n_rows * H > kParallelWork)
  for (int64_t n = 0; n < n_rows; ++n)
    lstm_row_backward(H, ws + n * 5 * H, cp + n * ldc, gy + n * H, dh + n * ldd, dc + n * H,
                      dg + n * 4 * H, ldc);
}

template <typename T>
void simple_cell_backward(int64_t n_rows, int64_t H, bool relu, const T* h, const T* gy,
                          const T* dh, int64_t ldd, T* dg, bool par) {
#pragma omp parallel for num_threads(num_threads()) \
    schedule(static) if (par && n_rows * H > kParallelWork)
  for (int64_t n = 0; n < n_rows; ++n) {
    const T* __restrict hn = h + n * H;
    const T* __restrict gyn = gy + n * H;
    const T* __restrict dhn = dh + n * ldd;
    T* __restrict dgn = dg + n * H;
    for (int64_t j = 0; j < H; ++j) {
      const T d = dhn[j] + gyn[j];
      dgn[j] = relu ? (hn[j] > T(0) ? d : T(0)) : d * (T(1) - hn[j] * hn[j]);
    }
  }
}

// ws = [r, z, n, lin]; a / b the input- and hidden-side gradients of one row.
template <typename T>
void gru_row_backward(int64_t H, const T* __restrict ws, const T* __restrict gy,
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

#define DLX_CELL_FNS(T)                                                   \
  RnnCellFns<T> {                                                         \
    &lstm_cell<T>, &gru_cell<T>, &simple_cell<T>, &lstm_cell_backward<T>, \
        &simple_cell_backward<T>, &gru_cell_backward<T>                   \
  }
const RnnCellKernels kCells = {DLX_CELL_FNS(float), DLX_CELL_FNS(double)};

}  // namespace

DLX_PROVIDE_KERNELS(rnn_cell_kernels, kCells)

}  // namespace dlx::DLX_ISA_NS
