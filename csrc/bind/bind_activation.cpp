#include <pybind11/pybind11.h>

#include <string>
#include <vector>

#include "activation.h"
#include "bind/bind.h"
#include "bind/checks.h"

namespace dlx::bind {
namespace {

std::vector<int64_t> shape_of(const py::array& a) {
  return std::vector<int64_t>(a.shape(), a.shape() + a.ndim());
}

// y = f(input) for an elementwise op: same shape and dtype as input.
py::array unary_forward(const char* fn, const py::object& x_obj, Activation op,
                        const ActivationParams& p) {
  py::array x = as_array(x_obj, fn, "input");
  return dispatch(x, fn, "input", [&](auto tag) -> py::array {
    using T = decltype(tag);
    x = input<T>(x_obj, fn, "input");
    auto y = empty<T>(shape_of(x), fn);
    const T* px = cptr<T>(x);
    T* py_ = y.mutable_data();
    const int64_t n = static_cast<int64_t>(x.size());
    {
      py::gil_scoped_release release;
      activation_forward(op, px, py_, n, p);
    }
    return y;
  });
}

// grad_input of an elementwise op from grad_output and the saved input (or output).
py::array unary_backward(const char* fn, const py::object& gy_obj, const py::object& s_obj,
                         const char* saved_name, Activation op, const ActivationParams& p) {
  py::array gy = as_array(gy_obj, fn, "grad_output");
  return dispatch(gy, fn, "grad_output", [&](auto tag) -> py::array {
    using T = decltype(tag);
    gy = input<T>(gy_obj, fn, "grad_output");
    py::array s = input<T>(s_obj, fn, saved_name);
    check_shape(gy, shape_of(s), fn, "grad_output");
    auto gx = empty<T>(shape_of(s), fn);
    const T* pgy = cptr<T>(gy);
    const T* ps = cptr<T>(s);
    T* pgx = gx.mutable_data();
    const int64_t n = static_cast<int64_t>(s.size());
    {
      py::gil_scoped_release release;
      activation_backward(op, pgy, ps, pgx, n, p);
    }
    return gx;
  });
}

Activation gelu_kind(const std::string& approximate, const char* fn) {
  if (approximate == "none") return Activation::gelu;
  if (approximate == "tanh") return Activation::gelu_tanh;
  throw std::invalid_argument(
      str(fn, ": `approximate` must be 'none' or 'tanh', got '", approximate, "'"));
}

ActivationParams softplus_params(double beta, double threshold, const char* fn) {
  DLX_CHECK(beta > 0.0, fn, ": `beta` must be positive, got ", beta);
  ActivationParams p;
  p.beta = beta;
  p.threshold = threshold;
  return p;
}

ActivationParams hardtanh_params(double min_val, double max_val, const char* fn) {
  DLX_CHECK(min_val <= max_val, fn, ": `min_val` must not exceed `max_val`, got min_val=", min_val,
            " > max_val=", max_val);
  ActivationParams p;
  p.min_val = min_val;
  p.max_val = max_val;
  return p;
}

// Elementwise ops without hyper-parameters, registered from one table.
struct SimpleOp {
  const char* forward;
  const char* backward;
  Activation op;
  const char* saved;  // what the backward takes: "input" or "output"
  const char* forward_doc;
  const char* backward_doc;
};

constexpr SimpleOp kSimpleOps[] = {
    {"relu_forward", "relu_backward", Activation::relu, "input", "max(x, 0).",
     "grad_output where input > 0, else 0."},
    {"abs_relu_forward", "abs_relu_backward", Activation::abs_relu, "input",
     "|x| (absolute-value rectification).", "sign(x) * grad_output (0 at 0)."},
    {"sigmoid_forward", "sigmoid_backward", Activation::sigmoid, "output",
     "1 / (1 + exp(-x)), without overflow.", "grad_output * y * (1 - y), y the forward output."},
    {"tanh_forward", "tanh_backward", Activation::tanh, "output", "tanh(x).",
     "grad_output * (1 - y^2), y the forward output."},
    {"silu_forward", "silu_backward", Activation::silu, "input", "x * sigmoid(x).",
     "Gradient of silu_forward from its input."},
};

}  // namespace

void bind_activation(py::module_& m) {
  using P = ActivationParams;
  using py::arg;
  for (const SimpleOp& s : kSimpleOps) {
    m.def(
        s.forward, [s](const py::object& x) { return unary_forward(s.forward, x, s.op, P{}); },
        arg("input"), s.forward_doc);
    m.def(
        s.backward,
        [s](const py::object& gy, const py::object& saved) {
          return unary_backward(s.backward, gy, saved, s.saved, s.op, P{});
        },
        arg("grad_output"), arg(s.saved), s.backward_doc);
  }
  m.def(
      "leaky_relu_forward",
      [](const py::object& x, double slope) {
        P p;
        p.negative_slope = slope;
        return unary_forward("leaky_relu_forward", x, Activation::leaky_relu, p);
      },
      arg("input"), arg("negative_slope") = 0.01, "x if x > 0 else negative_slope * x.");
  m.def(
      "leaky_relu_backward",
      [](const py::object& gy, const py::object& x, double slope) {
        P p;
        p.negative_slope = slope;
        return unary_backward("leaky_relu_backward", gy, x, "input", Activation::leaky_relu, p);
      },
      arg("grad_output"), arg("input"), arg("negative_slope") = 0.01,
      "Gradient of leaky_relu_forward (negative_slope at 0).");
  m.def(
      "elu_forward",
      [](const py::object& x, double alpha) {
        P p;
        p.alpha = alpha;
        return unary_forward("elu_forward", x, Activation::elu, p);
      },
      arg("input"), arg("alpha") = 1.0, "x if x > 0 else alpha * (exp(x) - 1).");
  m.def(
      "elu_backward",
      [](const py::object& gy, const py::object& x, double alpha) {
        P p;
        p.alpha = alpha;
        return unary_backward("elu_backward", gy, x, "input", Activation::elu, p);
      },
      arg("grad_output"), arg("input"), arg("alpha") = 1.0,
      "Gradient of elu_forward from its input.");
  m.def(
      "softplus_forward",
      [](const py::object& x, double beta, double threshold) {
        return unary_forward("softplus_forward", x, Activation::softplus,
                             softplus_params(beta, threshold, "softplus_forward"));
      },
      arg("input"), arg("beta") = 1.0, arg("threshold") = 20.0,
      "log(1 + exp(beta x)) / beta, and x where beta x > threshold (PyTorch semantics).");
  m.def(
      "softplus_backward",
      [](const py::object& gy, const py::object& x, double beta, double threshold) {
        return unary_backward("softplus_backward", gy, x, "input", Activation::softplus,
                              softplus_params(beta, threshold, "softplus_backward"));
      },
      arg("grad_output"), arg("input"), arg("beta") = 1.0, arg("threshold") = 20.0,
      "Gradient of softplus_forward from its input.");
  m.def(
      "hardtanh_forward",
      [](const py::object& x, double lo, double hi) {
        return unary_forward("hardtanh_forward", x, Activation::hardtanh,
                             hardtanh_params(lo, hi, "hardtanh_forward"));
      },
      arg("input"), arg("min_val") = -1.0, arg("max_val") = 1.0, "clip(x, min_val, max_val).");
  m.def(
      "hardtanh_backward",
      [](const py::object& gy, const py::object& x, double lo, double hi) {
        return unary_backward("hardtanh_backward", gy, x, "input", Activation::hardtanh,
                              hardtanh_params(lo, hi, "hardtanh_backward"));
      },
      arg("grad_output"), arg("input"), arg("min_val") = -1.0, arg("max_val") = 1.0,
      "grad_output strictly inside (min_val, max_val), else 0.");
  m.def(
      "gelu_forward",
      [](const py::object& x, const std::string& approximate) {
        return unary_forward("gelu_forward", x, gelu_kind(approximate, "gelu_forward"), P{});
      },
      arg("input"), arg("approximate") = "none",
      "x * Phi(x) ('none'), or the tanh approximation ('tanh').");
  m.def(
      "gelu_backward",
      [](const py::object& gy, const py::object& x, const std::string& approximate) {
        return unary_backward("gelu_backward", gy, x, "input",
                              gelu_kind(approximate, "gelu_backward"), P{});
      },
      arg("grad_output"), arg("input"), arg("approximate") = "none",
      "Gradient of gelu_forward from its input.");
  bind_activation_channel(m);
}

}  // namespace dlx::bind
