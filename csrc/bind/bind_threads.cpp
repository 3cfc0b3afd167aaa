#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <string>

#include "bind/bind.h"
#include "common.h"
#include "dispatch.h"
#include "sgemm.h"
#include "threads.h"

namespace dlx::bind {

void bind_threads(pybind11::module_& m) {
  install_blas_threads_callback();
  m.def("get_num_threads", &num_threads, "Threads used by OpenMP kernels and BLAS.");
  m.def("set_num_threads", &set_num_threads, pybind11::arg("n"),
        "Set the threads used by OpenMP kernels and BLAS.");
  m.def("blas_num_threads", &blas_num_threads, "Thread count the BLAS library reports.");
  m.def("blas_config", &blas_config, "The BLAS library's build description.");
  m.def(
      "gemm_backend", [] { return std::string(own_sgemm_enabled() ? own_sgemm_name() : "blas"); },
      "Which float32 GEMM dlx runs: 'dlx-avx512' / 'dlx-avx2' (its own kernel at the active "
      "ISA level) or 'blas'.");
  m.def(
      "set_gemm_backend",
      [](const std::string& name) {
        const char* own = own_sgemm_name();
        const bool to_own = name != "blas";
        DLX_CHECK(!to_own || own != nullptr, "set_gemm_backend: '", name,
                  "' needs dlx's own GEMM, which the active ISA level (", isa_name(isa_active()),
                  ") does not have; only 'blas' is available");
        DLX_CHECK(!to_own || name == "dlx" || name == own, "set_gemm_backend: '", name,
                  "' is not the active level's GEMM, which is '", own,
                  "' (DLX_CPU_CAPABILITY chooses the level at import)");
        set_own_sgemm(to_own);
      },
      pybind11::arg("name"),
      "Choose the float32 GEMM: 'blas', or 'dlx' (alias: the name gemm_backend() reports).");
  m.def("_after_fork_child", &after_fork_child,
        "In a forked child: BLAS gets its own pool back, dlx's kernels run on one thread "
        "(libgomp does not survive fork).");
}

}  // namespace dlx::bind
