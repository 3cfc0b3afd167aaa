#include "threads.h"

#include <omp.h>

#include <atomic>
#include <cstddef>
#include <mutex>
#include <thread>
#include <vector>

#include "blas.h"

// Thread control differs per BLAS. The scipy-openblas wheel exports prefixed names; a
// system BLAS may be OpenBLAS, MKL or neither, so those symbols are weak and tested.
#if !defined(DLX_BLAS_SCIPY_OPENBLAS)
extern "C" {
typedef void (*openblas_dojob_callback)(int, void*, int);
typedef void (*openblas_threads_callback)(int, openblas_dojob_callback, int, size_t, void*, int);
void openblas_set_num_threads(int) __attribute__((weak));
int openblas_get_num_threads(void) __attribute__((weak));
char* openblas_get_config(void) __attribute__((weak));
void openblas_set_threads_callback_function(openblas_threads_callback) __attribute__((weak));
void MKL_Set_Num_Threads(int) __attribute__((weak));
int MKL_Get_Max_Threads(void) __attribute__((weak));
}
#endif

namespace dlx {
namespace {

// The thread state is two atomics, the single source of truth: the count the user set
// (0: never set) and the number of live BlasSerialScopes. The BLAS's own count is derived
// from them (1 while any scope lives, else the user's count, else the BLAS's count at
// import) by sync_blas(), which every change calls. It reads the atomics under a mutex
// (the BLAS setter is not thread-safe), so whichever call runs last applies the final state:
// set_num_threads racing a running parallel convolution can no longer leave a stale count.
std::atomic<int> g_threads{0};
std::atomic<int> g_serial_scopes{0};
std::atomic<int> g_blas_initial{0};  // the BLAS's count before dlx changed it (0: unknown)
std::mutex g_blas_mutex;

int default_threads() { return omp_get_max_threads() > 0 ? omp_get_max_threads() : 1; }

void blas_set(int n) {
#if defined(DLX_BLAS_SCIPY_OPENBLAS)
  scipy_openblas_set_num_threads(n);
#else
  if (openblas_set_num_threads)
    openblas_set_num_threads(n);
  else if (MKL_Set_Num_Threads)
    MKL_Set_Num_Threads(n);
#endif
}

// The job type spelled out: the scipy-openblas headers renamed its typedef between
// releases (scipy_openblas_dojob_callback before 0.3.34.481, openblas_dojob_callback now).
using DojobFn = void (*)(int thread_num, void* jobdata, int dojob_data);

// Runs OpenBLAS's jobs on the OpenMP pool. All jobs must be live at once (level-3 jobs
// wait on each other), so when OpenMP cannot give numjobs threads (nested region or a
// smaller team) the jobs go to std::threads instead; a nested team of one would
// deadlock (OpenBLAS issue #4770).
void omp_threads_callback(int /*sync*/, DojobFn dojob, int numjobs, size_t elsize,
                          void* jobdata, int dojob_data) {
  char* base = static_cast<char*>(jobdata);
  if (numjobs <= 1) {
    if (numjobs == 1) dojob(0, base, dojob_data);
    return;
  }
  if (!omp_in_parallel() && omp_get_max_threads() >= numjobs) {
    std::atomic<int> ran{0};
#pragma omp parallel num_threads(numjobs)
    {
      if (omp_get_num_threads() == numjobs) {
        const int i = omp_get_thread_num();
        dojob(i, base + static_cast<size_t>(i) * elsize, dojob_data);
        ran.fetch_add(1);
      }
    }
    if (ran.load() == numjobs) return;
    // The runtime gave a smaller team (thread limit): nothing ran; use std::threads.
  }
  std::vector<std::thread> workers;
  workers.reserve(static_cast<size_t>(numjobs - 1));
  for (int i = 1; i < numjobs; ++i) {
    workers.emplace_back([=] { dojob(i, base + static_cast<size_t>(i) * elsize, dojob_data); });
  }
  dojob(0, base, dojob_data);
  for (auto& w : workers) w.join();
}

void sync_blas() {
  std::lock_guard<std::mutex> lock(g_blas_mutex);
  const int user = g_threads.load();
  const int idle = user > 0 ? user : g_blas_initial.load();
  const int want = g_serial_scopes.load() > 0 ? 1 : idle;
  if (want >= 1 && blas_num_threads() != want) blas_set(want);
}

}  // namespace

int num_threads() {
  int n = g_threads.load(std::memory_order_relaxed);
  return n > 0 ? n : default_threads();
}

void set_num_threads(int n) {
  DLX_CHECK(n >= 1, "set_num_threads: `n` must be a positive int, got ", n);
  g_threads.store(n);
  omp_set_num_threads(n);
  sync_blas();
}

void install_blas_threads_callback() {
  int expected = 0;
  g_blas_initial.compare_exchange_strong(expected, blas_num_threads());
#if defined(DLX_BLAS_SCIPY_OPENBLAS)
  scipy_openblas_set_threads_callback_function(omp_threads_callback);
#else
  if (openblas_set_threads_callback_function)
    openblas_set_threads_callback_function(omp_threads_callback);
#endif
}

void uninstall_blas_threads_callback() {
#if defined(DLX_BLAS_SCIPY_OPENBLAS)
  scipy_openblas_set_threads_callback_function(nullptr);
#else
  if (openblas_set_threads_callback_function) openblas_set_threads_callback_function(nullptr);
#endif
}

void after_fork_child() {
  uninstall_blas_threads_callback();
  g_serial_scopes.store(0);  // scopes of threads that do not exist in the child
  g_threads.store(1);
}

int blas_num_threads() {
#if defined(DLX_BLAS_SCIPY_OPENBLAS)
  return scipy_openblas_get_num_threads();
#else
  if (openblas_get_num_threads) return openblas_get_num_threads();
  if (MKL_Get_Max_Threads) return MKL_Get_Max_Threads();
  return -1;
#endif
}

const char* blas_config() {
#if defined(DLX_BLAS_SCIPY_OPENBLAS)
  return scipy_openblas_get_config();
#else
  if (openblas_get_config) return openblas_get_config();
  return "system CBLAS";
#endif
}

BlasSerialScope::BlasSerialScope() {
  g_serial_scopes.fetch_add(1);
  sync_blas();
}

BlasSerialScope::~BlasSerialScope() {
  g_serial_scopes.fetch_sub(1);
  sync_blas();
}

}  // namespace dlx
