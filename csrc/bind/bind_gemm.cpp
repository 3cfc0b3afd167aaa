#include <pybind11/pybind11.h>

#include <algorithm>
#include <vector>

#include "bind/bind.h"
#include "bind/checks.h"
#include "blas.h"
#include "linear.h"

namespace dlx::bind {
namespace {

// gemm(a, b, out=None, trans_a=False, trans_b=False, alpha=1, beta=0) -> out
py::array gemm_py(const py::object& a_obj, const py::object& b_obj, const py::object& out_obj,
                  bool trans_a, bool trans_b, double alpha, double beta) {
  constexpr const char* fn = "gemm";
  py::array a = as_array(a_obj, fn, "a");
  return dispatch(a, fn, "a", [&](auto tag) -> py::array {
    using T = decltype(tag);
    a = input<T>(a_obj, fn, "a");
    py::array b = input<T>(b_obj, fn, "b");
    check_ndim(a, 2, fn, "a");
    check_ndim(b, 2, fn, "b");
    const int64_t m = dim(a, trans_a ? 1 : 0), k = dim(a, trans_a ? 0 : 1);
    const int64_t kb = dim(b, trans_b ? 1 : 0), n = dim(b, trans_b ? 0 : 1);
    DLX_CHECK(k == kb, fn, ": inner dimensions differ: op(a) is (", m, ", ", k, ") but op(b) is (",
              kb, ", ", n, ")");
    py::array out;
    if (out_obj.is_none()) {
      DLX_CHECK(beta == 0.0, fn, ": `beta` must be 0 when `out` is not given, got ", beta);
      out = empty<T>({m, n}, fn);
    } else {
      out = inout<T>(out_obj, fn, "out");
      check_shape(out, {m, n}, fn, "out");
      check_no_overlap(out, "out", a, "a", fn);
      check_no_overlap(out, "out", b, "b", fn);
    }
    const T* pa = cptr<T>(a);
    const T* pb = cptr<T>(b);
    T* pc = mptr<T>(out);
    const int64_t lda = dim(a, 1), ldb = dim(b, 1);
    {
      py::gil_scoped_release release;
      gemm(trans_a, trans_b, m, n, k, static_cast<T>(alpha), pa, std::max<int64_t>(lda, 1), pb,
           std::max<int64_t>(ldb, 1), static_cast<T>(beta), pc, std::max<int64_t>(n, 1));
    }
    return out;
  });
}

py::array linear_forward_py(const py::object& x_obj, const py::object& w_obj,
                            const py::object& b_obj) {
  constexpr const char* fn = "linear_forward";
  py::array x = as_array(x_obj, fn, "input");
  return dispatch(x, fn, "input", [&](auto tag) -> py::array {
    using T = decltype(tag);
    x = input<T>(x_obj, fn, "input");
    py::array w = input<T>(w_obj, fn, "weight");
    check_ndim(x, 2, fn, "input");
    check_ndim(w, 2, fn, "weight");
    const int64_t n = dim(x, 0), in = dim(x, 1), out = dim(w, 0);
    DLX_CHECK(dim(w, 1) == in, fn, ": `weight` has ", dim(w, 1), " input features but `input` has ",
              in, " (weight shape ", shape_str(w), ", input shape ", shape_str(x), ")");
    py::array b;
    if (!b_obj.is_none()) {
      b = input<T>(b_obj, fn, "bias");
      check_shape(b, {out}, fn, "bias");
    }
    auto y = empty<T>({n, out}, fn);
    const T* px = cptr<T>(x);
    const T* pw = cptr<T>(w);
    const T* pb = b_obj.is_none() ? nullptr : cptr<T>(b);
    T* py_ = y.mutable_data();
    {
      py::gil_scoped_release release;
      linear_forward(px, pw, pb, py_, n, in, out);
    }
    return y;
  });
}

py::tuple linear_backward_py(const py::object& gy_obj, const py::object& x_obj,
                             const py::object& w_obj, bool input_grad, bool weight_grad,
                             bool bias_grad) {
  constexpr const char* fn = "linear_backward";
  py::array gy = as_array(gy_obj, fn, "grad_output");
  return dispatch(gy, fn, "grad_output", [&](auto tag) -> py::tuple {
    using T = decltype(tag);
    gy = input<T>(gy_obj, fn, "grad_output");
    py::array x = input<T>(x_obj, fn, "input");
    py::array w = input<T>(w_obj, fn, "weight");
    check_ndim(x, 2, fn, "input");
    check_ndim(w, 2, fn, "weight");
    const int64_t n = dim(x, 0), in = dim(x, 1), out = dim(w, 0);
    DLX_CHECK(dim(w, 1) == in, fn, ": `weight` has ", dim(w, 1), " input features but `input` has ",
              in);
    check_shape(gy, {n, out}, fn, "grad_output");
    py::object gx = py::none(), gw = py::none(), gb = py::none();
    T *pgx = nullptr, *pgw = nullptr, *pgb = nullptr;
    if (input_grad) {
      auto a = empty<T>({n, in}, fn);
      pgx = a.mutable_data();
      gx = a;
    }
    if (weight_grad) {
      auto a = empty<T>({out, in}, fn);
      pgw = a.mutable_data();
      gw = a;
    }
    if (bias_grad) {
      auto a = empty<T>({out}, fn);
      pgb = a.mutable_data();
      gb = a;
    }
    const T* pgy = cptr<T>(gy);
    const T* px = cptr<T>(x);
    const T* pw = cptr<T>(w);
    {
      py::gil_scoped_release release;
      linear_backward(pgy, px, pw, pgx, pgw, pgb, n, in, out);
    }
    return py::make_tuple(gx, gw, gb);
  });
}

// Batch-1 inference of a run of dense layers in one call: x -> relu?(x @ W_i^T + b_i) for
// each layer i. Same kernels and results as calling linear_forward / relu_forward in turn.
py::array dense_chain_forward_py(const py::object& x_obj, const py::list& weights,
                                 const py::list& biases, const py::list& relu) {
  constexpr const char* fn = "dense_chain_forward";
  const size_t layers = weights.size();
  DLX_CHECK(layers >= 1, fn, ": `weights` must hold at least one matrix, got none");
  DLX_CHECK(biases.size() == layers && relu.size() == layers, fn,
            ": `weights`, `biases` and `relu` must have one entry per layer, got ", layers, ", ",
            biases.size(), " and ", relu.size());
  py::array x = as_array(x_obj, fn, "input");
  return dispatch(x, fn, "input", [&](auto tag) -> py::array {
    using T = decltype(tag);
    x = input<T>(x_obj, fn, "input");
    check_ndim(x, 2, fn, "input");
    const int64_t n = dim(x, 0);
    std::vector<py::array> ws, bs;  // keep the arrays alive while the GIL is released
    std::vector<int64_t> width{dim(x, 1)};
    std::vector<bool> act;
    for (size_t i = 0; i < layers; ++i) {
      py::array w = input<T>(py::reinterpret_borrow<py::object>(weights[i]), fn, "weights[i]");
      check_ndim(w, 2, fn, "weights[i]");
      DLX_CHECK(dim(w, 1) == width.back(), fn, ": weights[", i, "] has ", dim(w, 1),
                " input features but the layer before gives ", width.back(), " (weight shape ",
                shape_str(w), ")");
      const py::object b_obj = py::reinterpret_borrow<py::object>(biases[i]);
      py::array b;
      if (!b_obj.is_none()) {
        b = input<T>(b_obj, fn, "biases[i]");
        check_shape(b, {dim(w, 0)}, fn, "biases[i]");
      }
      const py::object r = py::reinterpret_borrow<py::object>(relu[i]);
      DLX_CHECK_TYPE(py::isinstance<py::bool_>(r), fn, ": relu[", i, "] must be a bool, got ",
                     type_name(r));
      width.push_back(dim(w, 0));
      ws.push_back(w);
      bs.push_back(b);
      act.push_back(r.cast<bool>());
    }
    auto y = empty<T>({n, width.back()}, fn);
    std::vector<const T*> pw, pb;
    for (size_t i = 0; i < layers; ++i) {
      pw.push_back(cptr<T>(ws[i]));
      pb.push_back(bs[i] ? cptr<T>(bs[i]) : nullptr);
    }
    const T* px = cptr<T>(x);
    T* py_ = y.mutable_data();
    {
      py::gil_scoped_release release;
      dense_chain_forward(px, pw, pb, act, width, n, py_);
    }
    return y;
  });
}

}  // namespace

void bind_gemm(py::module_& m) {
  m.def("gemm", &gemm_py, py::arg("a"), py::arg("b"), py::arg("out") = py::none(),
        py::arg("trans_a") = false, py::arg("trans_b") = false, py::arg("alpha") = 1.0,
        py::arg("beta") = 0.0,
        "out = alpha * op(a) @ op(b) + beta * out (row-major BLAS GEMM; `out` updated in place).");
  m.def("linear_forward", &linear_forward_py, py::arg("input"), py::arg("weight"),
        py::arg("bias") = py::none(), "y = input @ weight.T + bias, bias add fused.");
  m.def("dense_chain_forward", &dense_chain_forward_py, py::arg("input"), py::arg("weights"),
        py::arg("biases"), py::arg("relu"),
        "Dense layers in one call: input -> relu?(input @ W.T + b) per layer (inference).");
  m.def("linear_backward", &linear_backward_py, py::arg("grad_output"), py::arg("input"),
        py::arg("weight"), py::arg("input_grad") = true, py::arg("weight_grad") = true,
        py::arg("bias_grad") = true,
        "(grad_input, grad_weight, grad_bias) of linear_forward; None where not requested.");
}

}  // namespace dlx::bind
