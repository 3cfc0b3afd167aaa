#include "sgemm.h"

#include <omp.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <stdexcept>
#include <utility>

#include "threads.h"

#if defined(__AVX512F__)
#include "avx512_util.h"
#include "sgemm_detail.h"
#define DLX_HAVE_OWN_SGEMM 1
#else
#define DLX_HAVE_OWN_SGEMM 0
#endif

namespace dlx {
namespace {

// -1: not decided yet; 0/1: off/on.
std::atomic<int> g_own_sgemm{-1};

bool env_wants_blas() {
  const char* v = std::getenv("DLX_GEMM");
  return v != nullptr && std::strcmp(v, "blas") == 0;
}

}  // namespace

bool own_sgemm_available() { return DLX_HAVE_OWN_SGEMM != 0; }

bool own_sgemm_enabled() {
  int s = g_own_sgemm.load(std::memory_order_relaxed);
  if (s < 0) {
    s = own_sgemm_available() && !env_wants_blas() ? 1 : 0;
    g_own_sgemm.store(s, std::memory_order_relaxed);
  }
  return s == 1;
}

void set_own_sgemm(bool on) { g_own_sgemm.store(on && own_sgemm_available() ? 1 : 0); }

#if DLX_HAVE_OWN_SGEMM
namespace sgemm_detail {
namespace {

using avx512::lane_mask;

// Grow-only, 64-byte aligned buffer owned by one thread.
struct Buffer {
  float* data = nullptr;
  size_t cap = 0;
  float* get(size_t n) {
    if (n > cap) {
      std::free(data);
      data = nullptr;
      cap = 0;
      const size_t bytes = (n * sizeof(float) + 63) / 64 * 64;
      data = static_cast<float*>(std::aligned_alloc(64, bytes));
      if (data == nullptr) throw std::bad_alloc();
      cap = n;
    }
    return data;
  }
  ~Buffer() { std::free(data); }
};
thread_local Buffer t_pack_a;
thread_local Buffer t_pack_b;

// C[0:MR, 0:32] (masked columns) = alpha * Ap @ Bp + beta * C; beta == 0 never reads C.
template <int MR>
void micro_kernel(int64_t kc, const float* __restrict ap, const float* __restrict bp, float* c,
                  int64_t ldc, float alpha, float beta, __mmask16 m0, __mmask16 m1) {
  __m512 acc0[MR], acc1[MR];
#pragma GCC unroll 14
  for (int i = 0; i < MR; ++i) {
    acc0[i] = acc1[i] = _mm512_setzero_ps();
    // The C tile is needed only at the end: start fetching it now (it is often in L3).
    _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc + 16), _MM_HINT_T0);
  }
  for (int64_t p = 0; p < kc; ++p) {
    const __m512 b0 = _mm512_load_ps(bp), b1 = _mm512_load_ps(bp + 16);
#pragma GCC unroll 14
    for (int i = 0; i < MR; ++i) {
      const __m512 av = _mm512_set1_ps(ap[i]);
      acc0[i] = _mm512_fmadd_ps(av, b0, acc0[i]);
      acc1[i] = _mm512_fmadd_ps(av, b1, acc1[i]);
    }
    ap += MR;
    bp += kNR;
  }
  const __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
#pragma GCC unroll 14
  for (int i = 0; i < MR; ++i) {
    float* ci = c + i * ldc;
    __m512 r0 = _mm512_mul_ps(va, acc0[i]), r1 = _mm512_mul_ps(va, acc1[i]);
    if (beta != 0.0f) {
      r0 = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(m0, ci), r0);
      r1 = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(m1, ci + 16), r1);
    }
    _mm512_mask_storeu_ps(ci, m0, r0);
    _mm512_mask_storeu_ps(ci + 16, m1, r1);
  }
}

using Kernel = void (*)(int64_t, const float*, const float*, float*, int64_t, float, float,
                        __mmask16, __mmask16);
template <int... I>
constexpr auto make_kernels(std::integer_sequence<int, I...>) {
  return std::array<Kernel, sizeof...(I)>{&micro_kernel<I + 1>...};
}
constexpr auto kKernels = make_kernels(std::make_integer_sequence<int, kMRMax>{});

// One thread's share of the whole product. With nth > 1 it runs inside dlx's own parallel
// region (the only place where the barriers below are reached).
void run(const Problem& pr, int tid, int nth, float* bpack, float* apack,
         std::atomic<int64_t>* counters) {
  const SgemmPackedB* packed = pr.packed_b;
  const int64_t m_blocks = (pr.m + kMC - 1) / kMC;
  int64_t phase = 0;
  for (int64_t jc = 0; jc < pr.n; jc += kNC) {
    const int64_t nc = std::min(kNC, pr.n - jc);
    const int64_t panels = (nc + kNR - 1) / kNR;
    // Panels per work item: enough items to balance the threads, at least one panel.
    const int64_t per_block =
        nth > 1 ? std::max<int64_t>(1, (4 * nth + m_blocks - 1) / m_blocks) : 1;
    const int64_t chunk = (panels + std::min(per_block, panels) - 1) / std::min(per_block, panels);
    const int64_t chunks = (panels + chunk - 1) / chunk;
    const KSplit ks(pr.k);
    for (int64_t pi = 0; pi < ks.count; ++pi, ++phase) {
      const int64_t pc = ks.start(pi), kc = ks.size(pi);
      if (packed != nullptr) {
        bpack = const_cast<float*>(packed->block(jc / kNC, pi));
      } else {
        for (int64_t q = tid; q < panels; q += nth) {
          const int64_t j0 = jc + q * kNR, nj = std::min<int64_t>(kNR, nc - q * kNR);
          if (pr.source_b != nullptr)
            pr.source_b->pack(pc, kc, j0, nj, bpack + q * kc * kNR);
          else
            pack_b_panel(pr.tb, pr.b, pr.ldb, pc, kc, j0, nj, bpack + q * kc * kNR);
        }
        if (nth > 1) {
#pragma omp barrier
        }
      }
      const float beta = pc == 0 ? pr.beta : 1.0f;
      int64_t packed_block = -1;
      std::atomic<int64_t>& next = counters[phase];
      for (int64_t item;
           (item = next.fetch_add(1, std::memory_order_relaxed)) < m_blocks * chunks;) {
        const int64_t ib = item / chunks, q0 = (item % chunks) * chunk;
        const int64_t ic = ib * kMC, mc = std::min(kMC, pr.m - ic);
        const Tiles tiles(mc);
        const float* ablock = apack;
        if (pr.packed_a != nullptr) {
          ablock = pr.packed_a->block(ib, pi);
        } else if (packed_block != ib) {
          pack_a_block(pr.ta, pr.a, pr.lda, ic, tiles, pc, kc, apack);
          packed_block = ib;
        }
        for (int64_t q = q0; q < std::min(panels, q0 + chunk); ++q) {
          const int64_t j = q * kNR, nj = std::min<int64_t>(kNR, nc - j);
          const __mmask16 m0 = lane_mask(nj), m1 = lane_mask(nj - 16);
          for (int64_t t = 0; t < tiles.count; ++t) {
            const int64_t i = tiles.start(t);
            kKernels[tiles.rows(t) - 1](kc, ablock + i * kc, bpack + q * kc * kNR,
                                        pr.c + (ic + i) * pr.ldc + jc + j, pr.ldc, pr.alpha, beta,
                                        m0, m1);
          }
        }
      }
      if (nth > 1) {
#pragma omp barrier
      }
    }
  }
}

// Below this many multiply-adds one thread is faster than waking the team.
constexpr double kParallelMacs = 1 << 19;

}  // namespace

void drive(const Problem& pr) {
  const SgemmPackedB* packed = pr.packed_b;
  const double macs = static_cast<double>(pr.m) * pr.n * pr.k;
  int nth = 1;
  if (!omp_in_parallel() && macs >= kParallelMacs) nth = num_threads();
  const int64_t kc_max = KSplit(pr.k).size(0);
  const int64_t panels_max = (std::min(kNC, pr.n) + kNR - 1) / kNR;
  float* bpack =
      packed != nullptr ? nullptr : t_pack_b.get(static_cast<size_t>(panels_max * kc_max * kNR));
  const size_t a_size = static_cast<size_t>(std::min(kMC, pr.m) * kc_max);
  const int64_t phases = ((pr.n + kNC - 1) / kNC) * KSplit(pr.k).count;
  std::unique_ptr<std::atomic<int64_t>[]> counters(new std::atomic<int64_t>[phases]);
  for (int64_t i = 0; i < phases; ++i) counters[i].store(0, std::memory_order_relaxed);
  if (nth <= 1) {
    run(pr, 0, 1, bpack, pr.packed_a != nullptr ? nullptr : t_pack_a.get(a_size), counters.get());
    return;
  }
  // Every thread's A buffer is allocated here, outside the region (no throw inside it).
  float* apack = pr.packed_a != nullptr ? nullptr : t_pack_a.get(a_size * static_cast<size_t>(nth));
#pragma omp parallel num_threads(nth)
  {
    const int tid = omp_get_thread_num(), team = omp_get_num_threads();
    run(pr, tid, team, bpack,
        apack == nullptr ? nullptr : apack + a_size * static_cast<size_t>(tid), counters.get());
  }
}

}  // namespace sgemm_detail

void own_sgemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
               const float* a, int64_t lda, const float* b, int64_t ldb, float beta, float* c,
               int64_t ldc) {
  sgemm_detail::drive(
      sgemm_detail::Problem{trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc});
}

#else  // no AVX-512: dlx::gemm never calls these

void own_sgemm(bool, bool, int64_t, int64_t, int64_t, float, const float*, int64_t, const float*,
               int64_t, float, float*, int64_t) {
  throw std::logic_error("own_sgemm: built without AVX-512");
}
SgemmPackedB::SgemmPackedB(bool, int64_t k, int64_t n, const float*, int64_t) : k_(k), n_(n) {
  throw std::logic_error("SgemmPackedB: built without AVX-512");
}
SgemmPackedB::~SgemmPackedB() = default;
void own_sgemv(int64_t, int64_t, float, const float*, int64_t, const float*, float, float*) {}
SgemmPackedA::SgemmPackedA(bool, int64_t m, int64_t k, const float*, int64_t) : m_(m), k_(k) {
  throw std::logic_error("SgemmPackedA: built without AVX-512");
}
SgemmPackedA::~SgemmPackedA() = default;
const float* SgemmPackedA::block(int64_t, int64_t) const { return nullptr; }
void own_sgemm_sourced(const SgemmPackedA&, int64_t, const SgemmBSource&, float, float, float*,
                       int64_t) {}
void own_sgemm_sourced(bool, int64_t, int64_t, int64_t, const float*, int64_t, const SgemmBSource&,
                       float, float, float*, int64_t) {}
const float* SgemmPackedB::block(int64_t, int64_t) const { return nullptr; }
void SgemmPackedB::multiply(bool, int64_t, float, const float*, int64_t, float, float*,
                            int64_t) const {}

#endif

}  // namespace dlx
