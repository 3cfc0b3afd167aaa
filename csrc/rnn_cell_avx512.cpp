// AVX-512 level of the float32 LSTM cell rows (rnn_cell_kernels.h).
#include <immintrin.h>

#include <cstdint>

#include "avx512_util.h"
#include "rnn_cell_kernels.h"
#include "vmath512.h"

namespace dlx::DLX_ISA_NS {
namespace {

using avx512::lane_mask;

// float32 row by hand: 16 units per step with vmath512.h (GCC's vectorisation of the scalar
// row above keeps two branches of every tanh and a division per sigmoid).
void lstm_row(int64_t H, float* ws, const float* __restrict c_prev, float* __restrict h,
              const float* __restrict b) {
  float* __restrict gi = ws;
  float* __restrict gf = ws + H;
  float* __restrict gg = ws + 2 * H;
  float* __restrict go = ws + 3 * H;
  float* __restrict c = ws + 4 * H;
  for (int64_t j = 0; j < H; j += 16) {
    const __mmask16 m = lane_mask(H - j);
    auto ld = [&](const float* p) { return _mm512_maskz_loadu_ps(m, p + j); };
    const __m512 i = v512::sigmoid(_mm512_add_ps(ld(gi), ld(b)));
    const __m512 f = v512::sigmoid(_mm512_add_ps(ld(gf), ld(b + H)));
    const __m512 g = v512::tanh(_mm512_add_ps(ld(gg), ld(b + 2 * H)));
    const __m512 o = v512::sigmoid(_mm512_add_ps(ld(go), ld(b + 3 * H)));
    const __m512 cj = _mm512_fmadd_ps(f, ld(c_prev), _mm512_mul_ps(i, g));
    _mm512_mask_storeu_ps(gi + j, m, i);
    _mm512_mask_storeu_ps(gf + j, m, f);
    _mm512_mask_storeu_ps(gg + j, m, g);
    _mm512_mask_storeu_ps(go + j, m, o);
    _mm512_mask_storeu_ps(c + j, m, cj);
    _mm512_mask_storeu_ps(h + j, m, _mm512_mul_ps(o, v512::tanh(cj)));
  }
}

// float32 row by hand, 16 units per step (the tanh of c through vmath512.h).
void lstm_row_backward(int64_t H, const float* __restrict ws, const float* __restrict c_prev,
                       const float* __restrict gy, const float* __restrict dh, float* __restrict dc,
                       float* __restrict dg, int64_t ldc) {
  const __m512 one = _mm512_set1_ps(1.0f);
  for (int64_t j = 0; j < H; j += 16) {
    const __mmask16 m = lane_mask(H - j);
    auto ld = [&](const float* p) { return _mm512_maskz_loadu_ps(m, p + j); };
    for (int64_t q = 0; q < 5; ++q)
      _mm_prefetch(reinterpret_cast<const char*>(ws + 10 * H + q * H + j), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(c_prev + 2 * ldc + j), _MM_HINT_T0);
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

const RnnCellKernels kCells = {&lstm_row, &lstm_row_backward};

}  // namespace

DLX_PROVIDE_KERNELS(rnn_cell_kernels, kCells)

}  // namespace dlx::DLX_ISA_NS
