#include <pybind11/pybind11.h>

#include <string>
#include <vector>

#include "bind/bind.h"
#include "bind/checks.h"
#include "bind/reduction.h"
#include "loss.h"
#include "softmax.h"

namespace dlx::bind {
namespace {

// ---- softmax / log_softmax -------------------------------------------------------------

struct AxisView {
  int64_t outer, len, inner;
};

AxisView axis_view(const py::array& a, int64_t axis, const char* fn) {
  const int64_t nd = a.ndim(), lim = nd == 0 ? 1 : nd;  // a 0-d array has one axis of length 1
  DLX_CHECK(axis >= -lim && axis < lim, fn, ": `axis` must be in [", -lim, ", ", lim, ") for a ",
            nd, "-D input, got ", axis);
  const int64_t ax = axis < 0 ? axis + lim : axis;
  AxisView v{1, 1, 1};
  for (int64_t d = 0; d < nd; ++d) {
    if (d < ax) v.outer *= dim(a, d);
    if (d == ax) v.len = dim(a, d);
    if (d > ax) v.inner *= dim(a, d);
  }
  return v;
}

py::array softmax_forward_py(const char* fn, bool log, const py::object& x_obj, int64_t axis) {
  py::array x = as_array(x_obj, fn, "input");
  return dispatch(x, fn, "input", [&](auto tag) -> py::array {
    using T = decltype(tag);
    x = input<T>(x_obj, fn, "input");
    const AxisView v = axis_view(x, axis, fn);
    auto y = empty<T>(shape_of(x), fn);
    const T* px = cptr<T>(x);
    T* py_ = y.mutable_data();
    {
      py::gil_scoped_release release;
      if (log) {
        log_softmax_forward(px, py_, v.outer, v.len, v.inner);
      } else {
        softmax_forward(px, py_, v.outer, v.len, v.inner);
      }
    }
    return y;
  });
}

py::array softmax_backward_py(const char* fn, bool log, const py::object& gy_obj,
                              const py::object& y_obj, int64_t axis) {
  py::array gy = as_array(gy_obj, fn, "grad_output");
  return dispatch(gy, fn, "grad_output", [&](auto tag) -> py::array {
    using T = decltype(tag);
    gy = input<T>(gy_obj, fn, "grad_output");
    py::array y = input<T>(y_obj, fn, "output");
    check_shape(gy, shape_of(y), fn, "grad_output");
    const AxisView v = axis_view(y, axis, fn);
    auto gx = empty<T>(shape_of(y), fn);
    const T* pgy = cptr<T>(gy);
    const T* py_ = cptr<T>(y);
    T* pgx = gx.mutable_data();
    {
      py::gil_scoped_release release;
      if (log) {
        log_softmax_backward(pgy, py_, pgx, v.outer, v.len, v.inner);
      } else {
        softmax_backward(pgy, py_, pgx, v.outer, v.len, v.inner);
      }
    }
    return gx;
  });
}

// ---- cross-entropy ---------------------------------------------------------------------

// The target: int64 class indices (n,), range-checked here, or probabilities (n, c) of dtype T.
template <typename T>
py::array ce_target(const py::object& obj, int64_t n, int64_t c, int64_t ignore_index,
                    const char* fn, bool& prob) {
  py::array t = as_array(obj, fn, "target");
  prob = !t.dtype().equal(py::dtype::of<int64_t>());
  DLX_CHECK_TYPE(!prob || t.dtype().equal(py::dtype::of<T>()), fn,
                 ": `target` must be int64 class indices or ",
                 std::string(py::str(py::dtype::of<T>())), " probabilities, got ", dtype_name(t));
  check_contiguous(t, fn, "target");
  if (prob) {
    check_shape(t, {n, c}, fn, "target");
    return aligned<T>(t, fn);
  }
  t = aligned<int64_t>(t, fn);
  check_shape(t, {n}, fn, "target");
  const int64_t* p = cptr<int64_t>(t);
  for (int64_t i = 0; i < n; ++i) {
    DLX_CHECK(p[i] == ignore_index || (p[i] >= 0 && p[i] < c), fn, ": `target` has class ", p[i],
              " at position ", i, ", outside [0, ", c, ") and not ignore_index=", ignore_index);
  }
  return t;
}

// Optional class weights (c,) of dtype T; nullptr when None.
template <typename T>
const T* ce_weight(const py::object& obj, int64_t c, const char* fn, py::array& keep) {
  if (obj.is_none()) return nullptr;
  keep = input<T>(obj, fn, "weight");
  check_shape(keep, {c}, fn, "weight");
  return cptr<T>(keep);
}

void check_smoothing(double eps, const char* fn) {
  DLX_CHECK(eps >= 0.0 && eps <= 1.0, fn, ": `label_smoothing` must be in [0, 1], got ", eps);
}

py::tuple cross_entropy_forward_py(const py::object& x_obj, const py::object& t_obj,
                                   const py::object& w_obj, int64_t ignore_index, double eps,
                                   const std::string& reduction) {
  constexpr const char* fn = "cross_entropy_forward";
  py::array x = as_array(x_obj, fn, "logits");
  return dispatch(x, fn, "logits", [&](auto tag) -> py::tuple {
    using T = decltype(tag);
    x = input<T>(x_obj, fn, "logits");
    check_ndim(x, 2, fn, "logits");
    const int64_t n = dim(x, 0), c = dim(x, 1);
    const Reduction red = parse_reduction(reduction, fn);
    check_smoothing(eps, fn);
    py::array w;
    const T* pw = ce_weight<T>(w_obj, c, fn, w);
    bool prob = false;
    py::array t = ce_target<T>(t_obj, n, c, ignore_index, fn, prob);
    auto lp = empty<T>({n, c}, fn);
    auto loss = loss_output<T>(red, {n}, fn);
    const T* px = cptr<T>(x);
    T* plp = lp.mutable_data();
    T* ploss = loss.mutable_data();
    {
      py::gil_scoped_release release;
      if (prob) {
        cross_entropy_prob_forward(px, cptr<T>(t), pw, plp, ploss, n, c, eps, red);
      } else {
        cross_entropy_forward(px, cptr<int64_t>(t), pw, plp, ploss, n, c, ignore_index, eps, red);
      }
    }
    return py::make_tuple(loss, lp);
  });
}

py::array cross_entropy_backward_py(const py::object& g_obj, const py::object& lp_obj,
                                    const py::object& t_obj, const py::object& w_obj,
                                    int64_t ignore_index, double eps,
                                    const std::string& reduction) {
  constexpr const char* fn = "cross_entropy_backward";
  py::array lp = as_array(lp_obj, fn, "log_probs");
  return dispatch(lp, fn, "log_probs", [&](auto tag) -> py::array {
    using T = decltype(tag);
    lp = input<T>(lp_obj, fn, "log_probs");
    check_ndim(lp, 2, fn, "log_probs");
    const int64_t n = dim(lp, 0), c = dim(lp, 1);
    const Reduction red = parse_reduction(reduction, fn);
    check_smoothing(eps, fn);
    py::array g = input<T>(g_obj, fn, "grad_loss");
    check_grad_loss(g, red, {n}, fn);
    py::array w;
    const T* pw = ce_weight<T>(w_obj, c, fn, w);
    bool prob = false;
    py::array t = ce_target<T>(t_obj, n, c, ignore_index, fn, prob);
    auto gx = empty<T>({n, c}, fn);
    const T* pg = cptr<T>(g);
    const T* plp = cptr<T>(lp);
    T* pgx = gx.mutable_data();
    {
      py::gil_scoped_release release;
      if (prob) {
        cross_entropy_prob_backward(pg, plp, cptr<T>(t), pw, pgx, n, c, eps, red);
      } else {
        cross_entropy_backward(pg, plp, cptr<int64_t>(t), pw, pgx, n, c, ignore_index, eps, red);
      }
    }
    return gx;
  });
}

}  // namespace

void bind_softmax_loss(py::module_& m) {
  using py::arg;
  const auto none = py::none();
  m.def(
      "softmax_forward",
      [](const py::object& x, int64_t axis) {
        return softmax_forward_py("softmax_forward", false, x, axis);
      },
      arg("input"), arg("axis") = -1, "exp(x - max) / sum(exp(x - max)) along `axis`.");
  m.def(
      "softmax_backward",
      [](const py::object& gy, const py::object& y, int64_t axis) {
        return softmax_backward_py("softmax_backward", false, gy, y, axis);
      },
      arg("grad_output"), arg("output"), arg("axis") = -1,
      "y * (grad_output - sum(grad_output * y)), y the forward output.");
  m.def(
      "log_softmax_forward",
      [](const py::object& x, int64_t axis) {
        return softmax_forward_py("log_softmax_forward", true, x, axis);
      },
      arg("input"), arg("axis") = -1, "x - max - log(sum(exp(x - max))) along `axis`.");
  m.def(
      "log_softmax_backward",
      [](const py::object& gy, const py::object& y, int64_t axis) {
        return softmax_backward_py("log_softmax_backward", true, gy, y, axis);
      },
      arg("grad_output"), arg("output"), arg("axis") = -1,
      "grad_output - exp(y) * sum(grad_output), y the forward output.");
  m.def("cross_entropy_forward", &cross_entropy_forward_py, arg("logits"), arg("target"),
        arg("weight") = none, arg("ignore_index") = -100, arg("label_smoothing") = 0.0,
        arg("reduction") = "mean",
        "(loss, log_probs) of softmax cross-entropy from logits (N, C) and int64 class "
        "indices (N,) or probabilities (N, C).");
  m.def("cross_entropy_backward", &cross_entropy_backward_py, arg("grad_loss"), arg("log_probs"),
        arg("target"), arg("weight") = none, arg("ignore_index") = -100,
        arg("label_smoothing") = 0.0, arg("reduction") = "mean",
        "Gradient with respect to the logits, rebuilt from log_probs.");
  bind_loss(m);
}

}  // namespace dlx::bind
