// dlx's own float32 GEMM: backend choice, cache blocking and the blocking loops (generic
// code); the micro-kernels and packers come from the active level (sgemm_kernels.h).
#include "sgemm.h"

#include <omp.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>

#include "cpu.h"
#include "sgemm_driver.h"
#include "threads.h"

namespace dlx {

KernelFamily<SgemmKernels> sgemm_kernels{"sgemm"};

namespace {

// -1: not decided yet; 0/1: off/on.
std::atomic<int> g_own_sgemm{-1};

bool env_wants_blas() {
  const char* v = std::getenv("DLX_GEMM");
  return v != nullptr && std::strcmp(v, "blas") == 0;
}

}  // namespace

bool own_sgemm_available() { return sgemm_kernels.get() != nullptr; }

bool own_sgemm_enabled() {
  int s = g_own_sgemm.load(std::memory_order_relaxed);
  if (s < 0) {
    s = env_wants_blas() ? 0 : 1;
    g_own_sgemm.store(s, std::memory_order_relaxed);
  }
  return s == 1 && own_sgemm_available();
}

void set_own_sgemm(bool on) { g_own_sgemm.store(on ? 1 : 0); }

const char* own_sgemm_name() {
  const SgemmKernels* k = sgemm_kernels.get();
  return k != nullptr ? k->name : nullptr;
}

SgemmBlocking sgemm_blocking_for(const SgemmKernels& k, int64_t l1d, int64_t l2, int64_t l3) {
  // kc: the B panel takes the level's share of L1 (a multiple of 16 rows); mc: the A block
  // its share of L2, in whole tiles; nc: the kc x nc block of B a quarter of L3, at most 3072
  // columns. Shares measured on a Zen 4 core (32 KiB L1d, 1 MiB L2, 32 MiB L3): 14 x 32
  // tiles kc 256, mc 224; 6 x 16 tiles kc 256, mc 120.
  const int64_t nr = k.nr, mr = k.mr_max;
  const auto share = [](int64_t bytes, double f) { return static_cast<int64_t>(bytes * f); };
  const int64_t kc = std::clamp<int64_t>(share(l1d, k.l1_share_b) / (nr * 4) / 16 * 16, 64, 768);
  const int64_t mc = std::max<int64_t>(share(l2, k.l2_share_a) / (kc * 4) / mr, 1) * mr;
  const int64_t nc = std::clamp<int64_t>(l3 / 4 / (kc * 4) / nr * nr, 4 * nr, 3072 / nr * nr);
  return SgemmBlocking{mc, kc, nc};
}

namespace {
// Set by set_sgemm_blocking (benchmarks, tuning); mc == 0: from the cache sizes.
std::atomic<int64_t> g_mc{0}, g_kc{0}, g_nc{0};
}  // namespace

void set_sgemm_blocking(int64_t mc, int64_t kc, int64_t nc) {
  g_mc.store(mc);
  g_kc.store(kc);
  g_nc.store(nc);
}

SgemmBlocking sgemm_blocking() {
  if (g_mc.load() > 0) return SgemmBlocking{g_mc.load(), g_kc.load(), g_nc.load()};
  const SgemmKernels* k = sgemm_kernels.get();
  const CacheSizes& c = cpu_info().cache;
  const int64_t l3 = c.l3 > 0 ? c.l3 : 8 * c.l2;
  return k == nullptr ? SgemmBlocking{224, 256, 3072} : sgemm_blocking_for(*k, c.l1d, c.l2, l3);
}

namespace sgemm_detail {
namespace {

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

// One thread's share of the whole product. With nth > 1 it runs inside dlx's own parallel
// region (the only place where the barriers below are reached).
void run(const Problem& pr, const SgemmKernels& ker, const SgemmBlocking& blk, int tid, int nth,
         float* bpack, float* apack, std::atomic<int64_t>* counters) {
  const SgemmPackedB* packed = pr.packed_b;
  const int64_t nr = ker.nr, kMC = blk.mc, kNC = blk.nc;
  const int64_t m_blocks = (pr.m + kMC - 1) / kMC;
  int64_t phase = 0;
  for (int64_t jc = 0; jc < pr.n; jc += kNC) {
    const int64_t nc = std::min(kNC, pr.n - jc);
    const int64_t panels = (nc + nr - 1) / nr;
    // Panels per work item: enough items to balance the threads, at least one panel.
    const int64_t per_block =
        nth > 1 ? std::max<int64_t>(1, (4 * nth + m_blocks - 1) / m_blocks) : 1;
    const int64_t chunk = (panels + std::min(per_block, panels) - 1) / std::min(per_block, panels);
    const int64_t chunks = (panels + chunk - 1) / chunk;
    const SgemmKSplit ks(pr.k, blk.kc);
    for (int64_t pi = 0; pi < ks.count; ++pi, ++phase) {
      const int64_t pc = ks.start(pi), kc = ks.size(pi);
      if (packed != nullptr) {
        bpack = const_cast<float*>(packed->block(jc / kNC, pi));
      } else {
        for (int64_t q = tid; q < panels; q += nth) {
          const int64_t j0 = jc + q * nr, nj = std::min(nr, nc - q * nr);
          if (pr.source_b != nullptr)
            pr.source_b->pack(pc, kc, j0, nj, bpack + q * kc * nr);
          else
            ker.pack_b_panel(pr.tb, pr.b, pr.ldb, pc, kc, j0, nj, bpack + q * kc * nr);
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
        const SgemmTiles tiles(mc, ker.mr_max);
        const float* ablock = apack;
        if (pr.packed_a != nullptr) {
          ablock = pr.packed_a->block(ib, pi);
        } else if (packed_block != ib) {
          ker.pack_a_block(pr.ta, pr.a, pr.lda, ic, tiles, pc, kc, apack);
          packed_block = ib;
        }
        for (int64_t q = q0; q < std::min(panels, q0 + chunk); ++q) {
          const int64_t j = q * nr, nj = std::min(nr, nc - j);
          for (int64_t t = 0; t < tiles.count; ++t) {
            const int64_t i = tiles.start(t);
            ker.micro_kernel(tiles.rows(t), kc, ablock + i * kc, bpack + q * kc * nr,
                             pr.c + (ic + i) * pr.ldc + jc + j, pr.ldc, pr.alpha, beta, nj);
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
  // Pre-packed operands carry the kernels and blocking they were packed for.
  const SgemmKernels& ker = packed != nullptr        ? packed->kernels()
                            : pr.packed_a != nullptr ? pr.packed_a->kernels()
                                                     : *sgemm_kernels.get();
  const SgemmBlocking blk = packed != nullptr        ? packed->blocking()
                            : pr.packed_a != nullptr ? pr.packed_a->blocking()
                                                     : sgemm_blocking();
  const double macs = static_cast<double>(pr.m) * pr.n * pr.k;
  int nth = 1;
  if (!omp_in_parallel() && macs >= kParallelMacs) nth = num_threads();
  const int64_t kc_max = SgemmKSplit(pr.k, blk.kc).size(0);
  const int64_t panels_max = (std::min(blk.nc, pr.n) + ker.nr - 1) / ker.nr;
  float* bpack =
      packed != nullptr ? nullptr : t_pack_b.get(static_cast<size_t>(panels_max * kc_max * ker.nr));
  const size_t a_size = static_cast<size_t>(std::min(blk.mc, pr.m) * kc_max);
  const int64_t phases = ((pr.n + blk.nc - 1) / blk.nc) * SgemmKSplit(pr.k, blk.kc).count;
  std::unique_ptr<std::atomic<int64_t>[]> counters(new std::atomic<int64_t>[phases]);
  for (int64_t i = 0; i < phases; ++i) counters[i].store(0, std::memory_order_relaxed);
  if (nth <= 1) {
    run(pr, ker, blk, 0, 1, bpack, pr.packed_a != nullptr ? nullptr : t_pack_a.get(a_size),
        counters.get());
    return;
  }
  // Every thread's A buffer is allocated here, outside the region (no throw inside it).
  float* apack = pr.packed_a != nullptr ? nullptr : t_pack_a.get(a_size * static_cast<size_t>(nth));
#pragma omp parallel num_threads(nth)
  {
    const int tid = omp_get_thread_num(), team = omp_get_num_threads();
    run(pr, ker, blk, tid, team, bpack,
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

}  // namespace dlx
