#include <pybind11/pybind11.h>

#include "bind/bind.h"
#include "threads.h"

namespace dlx::bind {

void bind_threads(pybind11::module_& m) {
  install_blas_threads_callback();
  m.def("get_num_threads", &num_threads, "Threads used by OpenMP kernels and BLAS.");
  m.def("set_num_threads", &set_num_threads, pybind11::arg("n"),
        "Set the threads used by OpenMP kernels and BLAS.");
  m.def("blas_num_threads", &blas_num_threads, "Thread count the BLAS library reports.");
  m.def("blas_config", &blas_config, "The BLAS library's build description.");
  m.def("_after_fork_child", &uninstall_blas_threads_callback,
        "Give BLAS back its own thread pool in a forked child (libgomp does not survive fork).");
}

}  // namespace dlx::bind
