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

int64_t prod(const std::vector<int64_t>& s, size_t from) {
  int64_t p = 1;
  for (size_t i = from; i < s.size(); ++i) p *= s[i];
  return p;
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
  DLX_CHECK(min_val <= max_val, fn, ": `min_val` must not exceed `max_val`, got min_val=",
            min_val, " > max_val=", max_val);
  ActivationParams p;
  p.min_val = min_val;
  p.max_val = max_val;
  return p;
}

// PReLU layout: (outer, channels, inner) with channels = input.shape[1] (1 for ndim < 2), and
// the weight (channels,) or (1,) shared.
struct PreluDims {
  int64_t outer, channels, inner;
  bool shared;
};

PreluDims prelu_dims(const py::array& x, const py::array& w, const char* fn) {
  const std::vector<int64_t> s = shape_of(x);
  const int64_t channels = s.size() >= 2 ? s[1] : 1;
  check_ndim(w, 1, fn, "weight");
  const int64_t wn = dim(w, 0);
  DLX_CHECK(wn == 1 || wn == channels, fn, ": `weight` must have 1 element or one per channel (",
            channels, " = input.shape[1]), got shape ", shape_str(w), " for input shape ",
            shape_str(x));
  if (s.size() < 2) return {1, 1, prod(s, 0), true};
  return {s[0], channels, prod(s, 2), wn == 1};
}

py::array prelu_forward_py(const py::object& x_obj, const py::object& w_obj) {
  constexpr const char* fn = "prelu_forward";
  py::array x = as_array(x_obj, fn, "input");
  return dispatch(x, fn, "input", [&](auto tag) -> py::array {
    using T = decltype(tag);
    x = input<T>(x_obj, fn, "input");
    py::array w = input<T>(w_obj, fn, "weight");
    const PreluDims d = prelu_dims(x, w, fn);
    auto y = empty<T>(shape_of(x), fn);
    const T* px = cptr<T>(x);
    const T* pw = cptr<T>(w);
    T* py_ = y.mutable_data();
    {
      py::gil_scoped_release release;
      prelu_forward(px, pw, py_, d.outer, d.channels, d.inner, d.shared);
    }
    return y;
  });
}

py::tuple prelu_backward_py(const py::object& gy_obj, const py::object& x_obj,
                            const py::object& w_obj) {
  constexpr const char* fn = "prelu_backward";
  py::array gy = as_array(gy_obj, fn, "grad_output");
  return dispatch(gy, fn, "grad_output", [&](auto tag) -> py::tuple {
    using T = decltype(tag);
    gy = input<T>(gy_obj, fn, "grad_output");
    py::array x = input<T>(x_obj, fn, "input");
    py::array w = input<T>(w_obj, fn, "weight");
    const PreluDims d = prelu_dims(x, w, fn);
    check_shape(gy, shape_of(x), fn, "grad_output");
    auto gx = empty<T>(shape_of(x), fn);
    auto gw = empty<T>(shape_of(w), fn);
    const T* pgy = cptr<T>(gy);
    const T* px = cptr<T>(x);
    const T* pw = cptr<T>(w);
    T* pgx = gx.mutable_data();
    T* pgw = gw.mutable_data();
    {
      py::gil_scoped_release release;
      prelu_backward(pgy, px, pw, pgx, pgw, d.outer, d.channels, d.inner, d.shared);
    }
    return py::make_tuple(gx, gw);
  });
}

py::tuple maxout_forward_py(const py::object& x_obj, int64_t pieces) {
  constexpr const char* fn = "maxout_forward";
  py::array x = as_array(x_obj, fn, "input");
  return dispatch(x, fn, "input", [&](auto tag) -> py::tuple {
    using T = decltype(tag);
    x = input<T>(x_obj, fn, "input");
    DLX_CHECK(pieces >= 1, fn, ": `pieces` must be a positive int, got ", pieces);
    DLX_CHECK(x.ndim() >= 2, fn, ": `input` must be (N, C * pieces, *rest) with ndim >= 2, got ",
              "ndim=", x.ndim(), " with shape ", shape_str(x));
    std::vector<int64_t> s = shape_of(x);
    DLX_CHECK(s[1] % pieces == 0, fn, ": `input` has ", s[1],
              " channels, which is not a multiple of `pieces`=", pieces);
    const int64_t outer = s[0], units = s[1] / pieces, inner = prod(s, 2);
    s[1] = units;
    auto y = empty<T>(s, fn);
    auto idx = empty<int64_t>(s, fn);
    const T* px = cptr<T>(x);
    T* py_ = y.mutable_data();
    int64_t* pidx = idx.mutable_data();
    {
      py::gil_scoped_release release;
      maxout_forward(px, py_, pidx, outer, units, pieces, inner);
    }
    return py::make_tuple(y, idx);
  });
}

py::array maxout_backward_py(const py::object& gy_obj, const py::object& idx_obj,
                             int64_t pieces) {
  constexpr const char* fn = "maxout_backward";
  py::array gy = as_array(gy_obj, fn, "grad_output");
  return dispatch(gy, fn, "grad_output", [&](auto tag) -> py::array {
    using T = decltype(tag);
    gy = input<T>(gy_obj, fn, "grad_output");
    py::array idx = as_array(idx_obj, fn, "indices");
    DLX_CHECK_TYPE(idx.dtype().equal(py::dtype::of<int64_t>()), fn,
                   ": `indices` must have dtype int64, got ", dtype_name(idx));
    check_contiguous(idx, fn, "indices");
    DLX_CHECK(pieces >= 1, fn, ": `pieces` must be a positive int, got ", pieces);
    DLX_CHECK(gy.ndim() >= 2, fn, ": `grad_output` must be (N, C, *rest) with ndim >= 2, got ",
              "ndim=", gy.ndim(), " with shape ", shape_str(gy));
    std::vector<int64_t> s = shape_of(gy);
    check_shape(idx, s, fn, "indices");
    const int64_t* pidx = cptr<int64_t>(idx);
    const int64_t count = static_cast<int64_t>(idx.size());
    for (int64_t i = 0; i < count; ++i) {
      DLX_CHECK(pidx[i] >= 0 && pidx[i] < pieces, fn, ": `indices` must be in [0, pieces=",
                pieces, "), got ", pidx[i], " at flat position ", i);
    }
    const int64_t outer = s[0], units = s[1], inner = prod(s, 2);
    s[1] = checked_mul(units, pieces, fn);
    auto gx = empty<T>(s, fn);
    const T* pgy = cptr<T>(gy);
    T* pgx = gx.mutable_data();
    {
      py::gil_scoped_release release;
      maxout_backward(pgy, pidx, pgx, outer, units, pieces, inner);
    }
    return gx;
  });
}

}  // namespace

void bind_activation(py::module_& m) {
  using P = ActivationParams;
  m.def(
      "relu_forward",
      [](const py::object& x) { return unary_forward("relu_forward", x, Activation::relu, P{}); },
      py::arg("input"), "max(x, 0).");
  m.def(
      "relu_backward",
      [](const py::object& gy, const py::object& x) {
        return unary_backward("relu_backward", gy, x, "input", Activation::relu, P{});
      },
      py::arg("grad_output"), py::arg("input"), "grad_output where input > 0, else 0.");
  m.def(
      "leaky_relu_forward",
      [](const py::object& x, double slope) {
        P p;
        p.negative_slope = slope;
        return unary_forward("leaky_relu_forward", x, Activation::leaky_relu, p);
      },
      py::arg("input"), py::arg("negative_slope") = 0.01, "x if x > 0 else negative_slope * x.");
  m.def(
      "leaky_relu_backward",
      [](const py::object& gy, const py::object& x, double slope) {
        P p;
        p.negative_slope = slope;
        return unary_backward("leaky_relu_backward", gy, x, "input", Activation::leaky_relu, p);
      },
      py::arg("grad_output"), py::arg("input"), py::arg("negative_slope") = 0.01,
      "Gradient of leaky_relu_forward (negative_slope at 0).");
  m.def(
      "abs_relu_forward",
      [](const py::object& x) {
        return unary_forward("abs_relu_forward", x, Activation::abs_relu, P{});
      },
      py::arg("input"), "|x| (absolute-value rectification).");
  m.def(
      "abs_relu_backward",
      [](const py::object& gy, const py::object& x) {
        return unary_backward("abs_relu_backward", gy, x, "input", Activation::abs_relu, P{});
      },
      py::arg("grad_output"), py::arg("input"), "sign(x) * grad_output (0 at 0).");
  m.def(
      "elu_forward",
      [](const py::object& x, double alpha) {
        P p;
        p.alpha = alpha;
        return unary_forward("elu_forward", x, Activation::elu, p);
      },
      py::arg("input"), py::arg("alpha") = 1.0, "x if x > 0 else alpha * (exp(x) - 1).");
  m.def(
      "elu_backward",
      [](const py::object& gy, const py::object& x, double alpha) {
        P p;
        p.alpha = alpha;
        return unary_backward("elu_backward", gy, x, "input", Activation::elu, p);
      },
      py::arg("grad_output"), py::arg("input"), py::arg("alpha") = 1.0,
      "Gradient of elu_forward from its input.");
  m.def(
      "sigmoid_forward",
      [](const py::object& x) {
        return unary_forward("sigmoid_forward", x, Activation::sigmoid, P{});
      },
      py::arg("input"), "1 / (1 + exp(-x)), without overflow.");
  m.def(
      "sigmoid_backward",
      [](const py::object& gy, const py::object& y) {
        return unary_backward("sigmoid_backward", gy, y, "output", Activation::sigmoid, P{});
      },
      py::arg("grad_output"), py::arg("output"), "grad_output * y * (1 - y), y the forward output.");
  m.def(
      "tanh_forward",
      [](const py::object& x) { return unary_forward("tanh_forward", x, Activation::tanh, P{}); },
      py::arg("input"), "tanh(x).");
  m.def(
      "tanh_backward",
      [](const py::object& gy, const py::object& y) {
        return unary_backward("tanh_backward", gy, y, "output", Activation::tanh, P{});
      },
      py::arg("grad_output"), py::arg("output"), "grad_output * (1 - y^2), y the forward output.");
  m.def(
      "softplus_forward",
      [](const py::object& x, double beta, double threshold) {
        return unary_forward("softplus_forward", x, Activation::softplus,
                             softplus_params(beta, threshold, "softplus_forward"));
      },
      py::arg("input"), py::arg("beta") = 1.0, py::arg("threshold") = 20.0,
      "log(1 + exp(beta x)) / beta, and x where beta x > threshold (PyTorch semantics).");
  m.def(
      "softplus_backward",
      [](const py::object& gy, const py::object& x, double beta, double threshold) {
        return unary_backward("softplus_backward", gy, x, "input", Activation::softplus,
                              softplus_params(beta, threshold, "softplus_backward"));
      },
      py::arg("grad_output"), py::arg("input"), py::arg("beta") = 1.0,
      py::arg("threshold") = 20.0, "Gradient of softplus_forward from its input.");
  m.def(
      "hardtanh_forward",
      [](const py::object& x, double lo, double hi) {
        return unary_forward("hardtanh_forward", x, Activation::hardtanh,
                             hardtanh_params(lo, hi, "hardtanh_forward"));
      },
      py::arg("input"), py::arg("min_val") = -1.0, py::arg("max_val") = 1.0,
      "clip(x, min_val, max_val).");
  m.def(
      "hardtanh_backward",
      [](const py::object& gy, const py::object& x, double lo, double hi) {
        return unary_backward("hardtanh_backward", gy, x, "input", Activation::hardtanh,
                              hardtanh_params(lo, hi, "hardtanh_backward"));
      },
      py::arg("grad_output"), py::arg("input"), py::arg("min_val") = -1.0,
      py::arg("max_val") = 1.0, "grad_output strictly inside (min_val, max_val), else 0.");
  m.def(
      "gelu_forward",
      [](const py::object& x, const std::string& approximate) {
        return unary_forward("gelu_forward", x, gelu_kind(approximate, "gelu_forward"), P{});
      },
      py::arg("input"), py::arg("approximate") = "none",
      "x * Phi(x) ('none'), or the tanh approximation ('tanh').");
  m.def(
      "gelu_backward",
      [](const py::object& gy, const py::object& x, const std::string& approximate) {
        return unary_backward("gelu_backward", gy, x, "input",
                              gelu_kind(approximate, "gelu_backward"), P{});
      },
      py::arg("grad_output"), py::arg("input"), py::arg("approximate") = "none",
      "Gradient of gelu_forward from its input.");
  m.def(
      "silu_forward",
      [](const py::object& x) { return unary_forward("silu_forward", x, Activation::silu, P{}); },
      py::arg("input"), "x * sigmoid(x).");
  m.def(
      "silu_backward",
      [](const py::object& gy, const py::object& x) {
        return unary_backward("silu_backward", gy, x, "input", Activation::silu, P{});
      },
      py::arg("grad_output"), py::arg("input"), "Gradient of silu_forward from its input.");
  m.def("prelu_forward", &prelu_forward_py, py::arg("input"), py::arg("weight"),
        "x if x > 0 else weight[c] * x, c the channel (axis 1); weight (C,) or (1,) shared.");
  m.def("prelu_backward", &prelu_backward_py, py::arg("grad_output"), py::arg("input"),
        py::arg("weight"), "(grad_input, grad_weight) of prelu_forward.");
  m.def("maxout_forward", &maxout_forward_py, py::arg("input"), py::arg("pieces"),
        "(output, indices): max over groups of `pieces` consecutive channels (axis 1).");
  m.def("maxout_backward", &maxout_backward_py, py::arg("grad_output"), py::arg("indices"),
        py::arg("pieces"), "grad_input of maxout_forward: grad_output at the winning piece.");
}

}  // namespace dlx::bind
