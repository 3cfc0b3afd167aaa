// dlx._core: the compiled kernels. Private; the public API is the dlx package.
#include <pybind11/pybind11.h>

#include "alloc.h"
#include "bind/bind.h"
#include "common.h"

PYBIND11_MODULE(_core, m) {
  m.doc() = "dlx compiled kernels (private; use the dlx package)";
  pybind11::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const dlx::type_error& e) {
      PyErr_SetString(PyExc_TypeError, e.what());
    }
  });
  dlx::bind::bind_isa(m);
  dlx::bind::bind_threads(m);
  dlx::bind::bind_gemm(m);
  dlx::bind::bind_conv(m);
  dlx::bind::bind_pool(m);
  dlx::bind::bind_activation(m);
  dlx::bind::bind_softmax_loss(m);
  dlx::bind::bind_batchnorm(m);
  dlx::bind::bind_norm(m);
  dlx::bind::bind_dropout(m);
  dlx::bind::bind_optim(m);
  dlx::bind::bind_rnn(m);
  dlx::bind::bind_attention(m);
  // glibc malloc tuned for repeated large allocations (csrc/alloc.h); False when skipped.
  m.attr("allocator_tuned") = dlx::tune_allocator();
}
