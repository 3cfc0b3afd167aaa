#include <pybind11/pybind11.h>

#include <limits>

#include "attention.h"
#include "bind/bind.h"
#include "bind/checks.h"

namespace dlx::bind {
namespace {

AttentionDims attention_dims(const py::array& q, const py::array& k, const py::array& v,
                             const char* fn) {
  check_ndim(q, 3, fn, "query");
  check_ndim(k, 3, fn, "key");
  check_ndim(v, 3, fn, "value");
  const AttentionDims d{dim(q, 0), dim(q, 1), dim(k, 1), dim(q, 2), dim(v, 2)};
  check_shape(k, {d.batch, d.len_k, d.embed}, fn, "key");
  check_shape(v, {d.batch, d.len_k, d.embed_v}, fn, "value");
  checked_mul(checked_mul(d.batch, d.len_q, fn), d.len_k, fn);
  // each GEMM dimension must fit the 32-bit BLAS interface (checked here, not in the
  // OpenMP loop, where an exception could not leave)
  for (const int64_t n : {d.len_q, d.len_k, d.embed, d.embed_v})
    DLX_CHECK(n <= std::numeric_limits<int>::max(), fn,
              ": sequence and feature sizes must fit a 32-bit int, got ", n);
  return d;
}

py::tuple attention_forward_py(const py::object& q_obj, const py::object& k_obj,
                               const py::object& v_obj, const py::object& mask_obj, bool causal,
                               double scale) {
  constexpr const char* fn = "attention_forward";
  py::array q = as_array(q_obj, fn, "query");
  return dispatch(q, fn, "query", [&](auto tag) -> py::tuple {
    using T = decltype(tag);
    q = input<T>(q_obj, fn, "query");
    py::array k = input<T>(k_obj, fn, "key"), v = input<T>(v_obj, fn, "value");
    const AttentionDims d = attention_dims(q, k, v, fn);
    py::array mask;
    int64_t mask_batch = 0;
    if (!mask_obj.is_none()) {
      mask = input<T>(mask_obj, fn, "mask");
      check_ndim(mask, 3, fn, "mask");
      mask_batch = dim(mask, 0);
      DLX_CHECK(mask_batch == 1 || mask_batch == d.batch, fn, ": `mask` must have 1 or ",
                d.batch, " batch entries, got ", mask_batch);
      check_shape(mask, {mask_batch, d.len_q, d.len_k}, fn, "mask");
    }
    auto out = empty<T>({d.batch, d.len_q, d.embed_v}, fn);
    auto probs = empty<T>({d.batch, d.len_q, d.len_k}, fn);
    const T* pm = mask_obj.is_none() ? nullptr : cptr<T>(mask);
    const T *pq = cptr<T>(q), *pk = cptr<T>(k), *pv = cptr<T>(v);
    T *po = out.mutable_data(), *pp = probs.mutable_data();
    {
      py::gil_scoped_release release;
      attention_forward<T>(pq, pk, pv, pm, mask_batch, causal, static_cast<T>(scale), d, po, pp);
    }
    return py::make_tuple(out, probs);
  });
}

py::tuple attention_backward_py(const py::object& g_obj, const py::object& q_obj,
                                const py::object& k_obj, const py::object& v_obj,
                                const py::object& p_obj, double scale) {
  constexpr const char* fn = "attention_backward";
  py::array g = as_array(g_obj, fn, "grad_output");
  return dispatch(g, fn, "grad_output", [&](auto tag) -> py::tuple {
    using T = decltype(tag);
    g = input<T>(g_obj, fn, "grad_output");
    py::array q = input<T>(q_obj, fn, "query"), k = input<T>(k_obj, fn, "key");
    py::array v = input<T>(v_obj, fn, "value"), p = input<T>(p_obj, fn, "probs");
    const AttentionDims d = attention_dims(q, k, v, fn);
    check_shape(g, {d.batch, d.len_q, d.embed_v}, fn, "grad_output");
    check_shape(p, {d.batch, d.len_q, d.len_k}, fn, "probs");
    auto gq = empty<T>({d.batch, d.len_q, d.embed}, fn);
    auto gk = empty<T>({d.batch, d.len_k, d.embed}, fn);
    auto gv = empty<T>({d.batch, d.len_k, d.embed_v}, fn);
    const T *pg = cptr<T>(g), *pq = cptr<T>(q), *pk = cptr<T>(k), *pv = cptr<T>(v);
    const T* pp = cptr<T>(p);
    T *dq = gq.mutable_data(), *dk = gk.mutable_data(), *dv = gv.mutable_data();
    {
      py::gil_scoped_release release;
      attention_backward<T>(pg, pq, pk, pv, pp, static_cast<T>(scale), d, dq, dk, dv);
    }
    return py::make_tuple(gq, gk, gv);
  });
}

}  // namespace

void bind_attention(py::module_& m) {
  m.def("attention_forward", &attention_forward_py, py::arg("query"), py::arg("key"),
        py::arg("value"), py::arg("mask") = py::none(), py::arg("causal") = false,
        py::arg("scale") = 1.0,
        "Fused attention (B, L, E) x (B, S, E) x (B, S, Ev) -> (out (B, L, Ev), probs (B, L, S)); "
        "mask: additive (1 or B, L, S)");
  m.def("attention_backward", &attention_backward_py, py::arg("grad_output"), py::arg("query"),
        py::arg("key"), py::arg("value"), py::arg("probs"), py::arg("scale") = 1.0,
        "Gradients (query, key, value) of attention_forward from its saved probs");
}

}  // namespace dlx::bind
