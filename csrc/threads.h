// One thread count for OpenMP kernels and BLAS. dlx parallelises one level at a time:
// either an OpenMP loop whose body calls BLAS single-threaded (BlasSerialScope), or a
// single multi-threaded BLAS call outside any OpenMP region. Never both nested.
#pragma once

namespace dlx {

// Threads every dlx OpenMP region uses (num_threads clause) and BLAS uses.
int num_threads();
void set_num_threads(int n);

// Registers the OpenMP-backed threads callback with OpenBLAS so BLAS and the OpenMP
// kernels share one pool of workers instead of two (both pools' idle workers spin: a loop
// alternating a threaded GEMM and an OpenMP kernel ran about 6x slower than its parts).
void install_blas_threads_callback();
// Restores OpenBLAS's own pthreads pool (used in a forked child: libgomp does not
// survive fork).
void uninstall_blas_threads_callback();
// In a forked child: BLAS gets its own pool back and dlx's kernels run on one thread
// (a libgomp team in a child of a process that used OpenMP hangs). set_num_threads in the
// child opts back in, at the user's risk.
void after_fork_child();

// BLAS thread count as the library reports it (-1 when the BLAS has no such control).
int blas_num_threads();
// Human-readable BLAS identification ("OpenBLAS 0.3.x ... SkylakeX").
const char* blas_config();

// While any scope is alive (in any thread), BLAS runs single-threaded; when the last one
// ends, BLAS gets the current set_num_threads count back (not a value saved at entry, which
// a concurrent set_num_threads would make stale). Use it around OpenMP loops whose
// iterations call GEMM. Global: another Python thread's large GEMM runs single-threaded
// meanwhile.
class BlasSerialScope {
 public:
  BlasSerialScope();
  ~BlasSerialScope();
  BlasSerialScope(const BlasSerialScope&) = delete;
  BlasSerialScope& operator=(const BlasSerialScope&) = delete;
};

}  // namespace dlx
