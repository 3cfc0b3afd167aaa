// Bindings of the per-channel activations: PReLU and maxout.
#include <pybind11/pybind11.h>

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

py::array maxout_backward_py(const py::object& gy_obj, const py::object& idx_obj, int64_t pieces) {
  constexpr const char* fn = "maxout_backward";
  py::array gy = as_array(gy_obj, fn, "grad_output");
  return dispatch(gy, fn, "grad_output", [&](auto tag) -> py::array {
    using T = decltype(tag);
    gy = input<T>(gy_obj, fn, "grad_output");
    py::array idx = as_array(idx_obj, fn, "indices");
    DLX_CHECK_TYPE(idx.dtype().equal(py::dtype::of<int64_t>()), fn,
                   ": `indices` must have dtype int64, got ", dtype_name(idx));
    check_contiguous(idx, fn, "indices");
    idx = aligned<int64_t>(idx, fn);
    DLX_CHECK(pieces >= 1, fn, ": `pieces` must be a positive int, got ", pieces);
    DLX_CHECK(gy.ndim() >= 2, fn, ": `grad_output` must be (N, C, *rest) with ndim >= 2, got ",
              "ndim=", gy.ndim(), " with shape ", shape_str(gy));
    std::vector<int64_t> s = shape_of(gy);
    check_shape(idx, s, fn, "indices");
    const int64_t* pidx = cptr<int64_t>(idx);
    const int64_t count = static_cast<int64_t>(idx.size());
    for (int64_t i = 0; i < count; ++i) {
      DLX_CHECK(pidx[i] >= 0 && pidx[i] < pieces, fn, ": `indices` must be in [0, pieces=", pieces,
                "), got ", pidx[i], " at flat position ", i);
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

void bind_activation_channel(py::module_& m) {
  using py::arg;
  m.def("prelu_forward", &prelu_forward_py, arg("input"), arg("weight"),
        "x if x > 0 else weight[c] * x, c the channel (axis 1); weight (C,) or (1,) shared.");
  m.def("prelu_backward", &prelu_backward_py, arg("grad_output"), arg("input"), arg("weight"),
        "(grad_input, grad_weight) of prelu_forward.");
  m.def("maxout_forward", &maxout_forward_py, arg("input"), arg("pieces"),
        "(output, indices): max over groups of `pieces` consecutive channels (axis 1).");
  m.def("maxout_backward", &maxout_backward_py, arg("grad_output"), arg("indices"), arg("pieces"),
        "grad_input of maxout_forward: grad_output at the winning piece.");
}

}  // namespace dlx::bind
