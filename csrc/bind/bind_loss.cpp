// Bindings of the elementwise losses: MSE, L1, Huber and BCE with logits.
#include <pybind11/pybind11.h>

#include <string>
#include <vector>

#include "bind/bind.h"
#include "bind/checks.h"
#include "bind/reduction.h"
#include "loss.h"

namespace dlx::bind {
namespace {

// Pointwise losses and BCE share argument handling: `input_name` and target of one shape and
// dtype, an optional pos_weight (BCE only), the reduction.
struct Elementwise {
  const char* fn;
  const char* input_name;
  bool bce;
  PointwiseLoss kind;
  double delta;
};

// BCE pos_weight: (1,) shared -> cols 1; (last,) per class along the last axis -> cols = last.
template <typename T>
const T* pos_weight_arg(const py::object& obj, const py::array& x, const char* fn, py::array& keep,
                        int64_t& cols) {
  cols = 1;
  if (obj.is_none()) return nullptr;
  keep = input<T>(obj, fn, "pos_weight");
  check_ndim(keep, 1, fn, "pos_weight");
  const int64_t last = x.ndim() == 0 ? 1 : dim(x, x.ndim() - 1);
  const int64_t len = dim(keep, 0);
  DLX_CHECK(len == 1 || len == last, fn, ": `pos_weight` must have 1 element or one per class ",
            "along the last axis (", last, "), got shape ", shape_str(keep), " for logits shape ",
            shape_str(x));
  cols = len;
  return cptr<T>(keep);
}

py::array elementwise_forward_py(const Elementwise& op, const py::object& x_obj,
                                 const py::object& t_obj, const py::object& pw_obj,
                                 const std::string& reduction) {
  const char* fn = op.fn;
  py::array x = as_array(x_obj, fn, op.input_name);
  return dispatch(x, fn, op.input_name, [&](auto tag) -> py::array {
    using T = decltype(tag);
    x = input<T>(x_obj, fn, op.input_name);
    py::array t = input<T>(t_obj, fn, "target");
    check_shape(t, shape_of(x), fn, "target");
    const Reduction red = parse_reduction(reduction, fn);
    if (op.kind == PointwiseLoss::huber && !op.bce) {
      DLX_CHECK(op.delta > 0.0, fn, ": `delta` must be positive, got ", op.delta);
    }
    py::array pwa;
    int64_t cols = 1;
    const T* pw = op.bce ? pos_weight_arg<T>(pw_obj, x, fn, pwa, cols) : nullptr;
    auto loss = loss_output<T>(red, shape_of(x), fn);
    const T* px = cptr<T>(x);
    const T* pt = cptr<T>(t);
    T* pl = loss.mutable_data();
    const int64_t n = static_cast<int64_t>(x.size());
    {
      py::gil_scoped_release release;
      if (op.bce) {
        bce_with_logits_forward(px, pt, pw, pl, n, cols, red);
      } else {
        pointwise_loss_forward(op.kind, px, pt, pl, n, op.delta, red);
      }
    }
    return loss;
  });
}

py::array elementwise_backward_py(const Elementwise& op, const py::object& g_obj,
                                  const py::object& x_obj, const py::object& t_obj,
                                  const py::object& pw_obj, const std::string& reduction) {
  const char* fn = op.fn;
  py::array x = as_array(x_obj, fn, op.input_name);
  return dispatch(x, fn, op.input_name, [&](auto tag) -> py::array {
    using T = decltype(tag);
    x = input<T>(x_obj, fn, op.input_name);
    py::array t = input<T>(t_obj, fn, "target");
    check_shape(t, shape_of(x), fn, "target");
    const Reduction red = parse_reduction(reduction, fn);
    py::array g = input<T>(g_obj, fn, "grad_loss");
    check_grad_loss(g, red, shape_of(x), fn);
    if (op.kind == PointwiseLoss::huber && !op.bce) {
      DLX_CHECK(op.delta > 0.0, fn, ": `delta` must be positive, got ", op.delta);
    }
    py::array pwa;
    int64_t cols = 1;
    const T* pw = op.bce ? pos_weight_arg<T>(pw_obj, x, fn, pwa, cols) : nullptr;
    auto gx = empty<T>(shape_of(x), fn);
    const T* pg = cptr<T>(g);
    const T* px = cptr<T>(x);
    const T* pt = cptr<T>(t);
    T* pgx = gx.mutable_data();
    const int64_t n = static_cast<int64_t>(x.size());
    {
      py::gil_scoped_release release;
      if (op.bce) {
        bce_with_logits_backward(pg, px, pt, pw, pgx, n, cols, red);
      } else {
        pointwise_loss_backward(op.kind, pg, px, pt, pgx, n, op.delta, red);
      }
    }
    return gx;
  });
}

Elementwise pointwise(const char* fn, PointwiseLoss kind, double delta = 1.0) {
  return {fn, "input", false, kind, delta};
}

}  // namespace

void bind_loss(py::module_& m) {
  using py::arg;
  const auto none = py::none();
  m.def(
      "bce_with_logits_forward",
      [](const py::object& x, const py::object& t, const py::object& pw, const std::string& r) {
        return elementwise_forward_py({"bce_with_logits_forward", "logits", true, {}, 0.0}, x, t,
                                      pw, r);
      },
      arg("logits"), arg("target"), arg("pos_weight") = none, arg("reduction") = "mean",
      "Binary cross-entropy of sigmoid(logits), computed stably from the logits.");
  m.def(
      "bce_with_logits_backward",
      [](const py::object& g, const py::object& x, const py::object& t, const py::object& pw,
         const std::string& r) {
        return elementwise_backward_py({"bce_with_logits_backward", "logits", true, {}, 0.0}, g, x,
                                       t, pw, r);
      },
      arg("grad_loss"), arg("logits"), arg("target"), arg("pos_weight") = none,
      arg("reduction") = "mean", "Gradient of bce_with_logits_forward w.r.t. the logits.");
  m.def(
      "mse_loss_forward",
      [](const py::object& x, const py::object& t, const std::string& r) {
        return elementwise_forward_py(pointwise("mse_loss_forward", PointwiseLoss::mse), x, t,
                                      py::none(), r);
      },
      arg("input"), arg("target"), arg("reduction") = "mean", "(input - target)^2.");
  m.def(
      "mse_loss_backward",
      [](const py::object& g, const py::object& x, const py::object& t, const std::string& r) {
        return elementwise_backward_py(pointwise("mse_loss_backward", PointwiseLoss::mse), g, x, t,
                                       py::none(), r);
      },
      arg("grad_loss"), arg("input"), arg("target"), arg("reduction") = "mean",
      "Gradient of mse_loss_forward w.r.t. the input.");
  m.def(
      "l1_loss_forward",
      [](const py::object& x, const py::object& t, const std::string& r) {
        return elementwise_forward_py(pointwise("l1_loss_forward", PointwiseLoss::l1), x, t,
                                      py::none(), r);
      },
      arg("input"), arg("target"), arg("reduction") = "mean", "|input - target|.");
  m.def(
      "l1_loss_backward",
      [](const py::object& g, const py::object& x, const py::object& t, const std::string& r) {
        return elementwise_backward_py(pointwise("l1_loss_backward", PointwiseLoss::l1), g, x, t,
                                       py::none(), r);
      },
      arg("grad_loss"), arg("input"), arg("target"), arg("reduction") = "mean",
      "sign(input - target) * grad (0 where equal).");
  m.def(
      "huber_loss_forward",
      [](const py::object& x, const py::object& t, double delta, const std::string& r) {
        return elementwise_forward_py(pointwise("huber_loss_forward", PointwiseLoss::huber, delta),
                                      x, t, py::none(), r);
      },
      arg("input"), arg("target"), arg("delta") = 1.0, arg("reduction") = "mean",
      "d^2 / 2 where |d| < delta, else delta * (|d| - delta / 2); d = input - target.");
  m.def(
      "huber_loss_backward",
      [](const py::object& g, const py::object& x, const py::object& t, double delta,
         const std::string& r) {
        return elementwise_backward_py(
            pointwise("huber_loss_backward", PointwiseLoss::huber, delta), g, x, t, py::none(), r);
      },
      arg("grad_loss"), arg("input"), arg("target"), arg("delta") = 1.0, arg("reduction") = "mean",
      "clip(input - target, -delta, delta) * grad.");
}

}  // namespace dlx::bind
