#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <string>

#include "bind/bind.h"
#include "common.h"
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
      "gemm_backend", [] { return own_sgemm_enabled() ? "dlx-avx512" : "blas"; },
      "Which float32 GEMM dlx runs: 'dlx-avx512' (its own kernel) or 'blas'.");
  m.def(
      "set_gemm_backend",
      [](const std::string& name) {
        DLX_CHECK(name == "blas" || name == "dlx-avx512",
                  "set_gemm_backend: `name` must be 'blas' or 'dlx-avx512', got '", name, "'");
        DLX_CHECK(name == "blas" || own_sgemm_available(),
                  "set_gemm_backend: 'dlx-avx512' needs a build for an AVX-512 target "
                  "(this build has no AVX-512; see DLX_PORTABLE in the README)");
        set_own_sgemm(name == "dlx-avx512");
      },
      pybind11::arg("name"), "Choose the float32 GEMM: 'blas' or 'dlx-avx512'.");
  m.def("_after_fork_child", &after_fork_child,
        "In a forked child: BLAS gets its own pool back, dlx's kernels run on one thread "
        "(libgomp does not survive fork).");
}

}  // namespace dlx::bind
