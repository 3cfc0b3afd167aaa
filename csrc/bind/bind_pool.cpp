#include <pybind11/pybind11.h>

#include <array>
#include <climits>

#include "bind/bind.h"
#include "bind/checks.h"
#include "pool.h"

namespace dlx::bind {
namespace {

using Shape4 = std::array<int64_t, 4>;

std::string pair_str(std::pair<int64_t, int64_t> v) {
  return str("(", v.first, ", ", v.second, ")");
}

// A hyper-parameter pair within [lo, INT_MAX] (the bound keeps size arithmetic far from
// int64 overflow; PyTorch stores these as int too).
std::pair<int64_t, int64_t> bounded_pair(const py::object& obj, const char* fn, const char* name,
                                         int64_t lo, const char* rule) {
  auto v = pair_arg(obj, fn, name);
  DLX_CHECK(v.first >= lo && v.second >= lo, fn, ": `", name, "` must be ", rule, ", got ",
            pair_str(v));
  DLX_CHECK(v.first <= INT_MAX && v.second <= INT_MAX, fn, ": `", name, "` must be at most ",
            INT_MAX, ", got ", pair_str(v));
  return v;
}

// input_shape argument of the backward functions: 4 non-negative ints (N, C, H, W).
Shape4 shape4_arg(const py::object& obj, const char* fn) {
  DLX_CHECK_TYPE(py::isinstance<py::tuple>(obj) || py::isinstance<py::list>(obj), fn,
                 ": `input_shape` must be a tuple of 4 ints, got ", type_name(obj));
  py::sequence seq = obj.cast<py::sequence>();
  DLX_CHECK(seq.size() == 4, fn, ": `input_shape` must be a tuple of 4 ints (N, C, H, W), got ",
            seq.size(), " values");
  Shape4 s{};
  for (size_t i = 0; i < 4; ++i) {
    DLX_CHECK_TYPE(py::isinstance<py::int_>(seq[i]), fn,
                   ": `input_shape` must be a tuple of 4 ints, got an element of type ",
                   type_name(seq[i]));
    s[i] = seq[i].cast<int64_t>();
  }
  DLX_CHECK(s[0] >= 0 && s[1] >= 0 && s[2] >= 0 && s[3] >= 0, fn,
            ": `input_shape` must be non-negative, got (", s[0], ", ", s[1], ", ", s[2], ", ", s[3],
            ")");
  return s;
}

Shape4 shape_of(const py::array& a) { return {dim(a, 0), dim(a, 1), dim(a, 2), dim(a, 3)}; }

// Validates the hyper-parameters against the input shape and fills the kernel params.
// dilation_obj is nullptr for average pooling.
Pool2dParams pool_params(const char* fn, const Shape4& s, const py::object& kernel_obj,
                         const py::object& stride_obj, const py::object& padding_obj,
                         const py::object* dilation_obj, bool ceil_mode) {
  const auto k = bounded_pair(kernel_obj, fn, "kernel_size", 1, "positive");
  const auto st = stride_obj.is_none() ? k : bounded_pair(stride_obj, fn, "stride", 1, "positive");
  const auto pad = bounded_pair(padding_obj, fn, "padding", 0, "non-negative");
  const auto dil = dilation_obj ? bounded_pair(*dilation_obj, fn, "dilation", 1, "positive")
                                : std::pair<int64_t, int64_t>{1, 1};
  DLX_CHECK(pad.first <= k.first / 2 && pad.second <= k.second / 2, fn,
            ": `padding` must be at most half of `kernel_size`, got padding=", pair_str(pad),
            " and kernel_size=", pair_str(k));
  DLX_CHECK(s[2] >= 1 && s[3] >= 1, fn, ": input height and width must be positive, got (", s[0],
            ", ", s[1], ", ", s[2], ", ", s[3], ")");
  Pool2dParams p;
  p.planes = checked_mul(s[0], s[1], fn);
  p.h_in = s[2];
  p.w_in = s[3];
  p.kernel_h = k.first;
  p.kernel_w = k.second;
  p.stride_h = st.first;
  p.stride_w = st.second;
  p.pad_h = pad.first;
  p.pad_w = pad.second;
  p.dilation_h = dil.first;
  p.dilation_w = dil.second;
  p.h_out = window_out_size(p.h_in, p.kernel_h, p.stride_h, p.pad_h, p.dilation_h, ceil_mode, fn);
  p.w_out = window_out_size(p.w_in, p.kernel_w, p.stride_w, p.pad_w, p.dilation_w, ceil_mode, fn);
  DLX_CHECK(p.h_out >= 1 && p.w_out >= 1, fn, ": output size is too small: input (", s[2], ", ",
            s[3], ") with kernel_size=", pair_str(k), ", padding=", pair_str(pad),
            ", dilation=", pair_str(dil), " gives (", p.h_out, ", ", p.w_out, ")");
  return p;
}

py::array int64_input(const py::object& obj, const char* fn, const char* name) {
  py::array a = as_array(obj, fn, name);
  DLX_CHECK_TYPE(a.dtype().equal(py::dtype::of<int64_t>()), fn, ": `", name,
                 "` must have dtype int64, got ", dtype_name(a));
  check_contiguous(a, fn, name);
  return aligned<int64_t>(a, fn);
}

py::tuple max_pool2d_forward_py(const py::object& x_obj, const py::object& kernel_size,
                                const py::object& stride, const py::object& padding,
                                const py::object& dilation, bool ceil_mode) {
  constexpr const char* fn = "max_pool2d_forward";
  py::array x = as_array(x_obj, fn, "input");
  return dispatch(x, fn, "input", [&](auto tag) -> py::tuple {
    using T = decltype(tag);
    x = input<T>(x_obj, fn, "input");
    check_ndim(x, 4, fn, "input");
    const Shape4 s = shape_of(x);
    const Pool2dParams p = pool_params(fn, s, kernel_size, stride, padding, &dilation, ceil_mode);
    auto y = empty<T>({s[0], s[1], p.h_out, p.w_out}, fn);
    auto idx = empty<int64_t>({s[0], s[1], p.h_out, p.w_out}, fn);
    const T* px = cptr<T>(x);
    T* py_ = y.mutable_data();
    int64_t* pi = idx.mutable_data();
    {
      py::gil_scoped_release release;
      max_pool2d_forward(px, py_, pi, p);
    }
    return py::make_tuple(y, idx);
  });
}

py::array max_pool2d_backward_py(const py::object& gy_obj, const py::object& idx_obj,
                                 const py::object& shape_obj) {
  constexpr const char* fn = "max_pool2d_backward";
  py::array gy = as_array(gy_obj, fn, "grad_output");
  return dispatch(gy, fn, "grad_output", [&](auto tag) -> py::array {
    using T = decltype(tag);
    gy = input<T>(gy_obj, fn, "grad_output");
    check_ndim(gy, 4, fn, "grad_output");
    py::array idx = int64_input(idx_obj, fn, "indices");
    const Shape4 s = shape4_arg(shape_obj, fn);
    const Shape4 g = shape_of(gy);
    check_shape(idx, {g[0], g[1], g[2], g[3]}, fn, "indices");
    DLX_CHECK(g[0] == s[0] && g[1] == s[1], fn, ": `grad_output` has (N, C) = (", g[0], ", ", g[1],
              ") but `input_shape` has (", s[0], ", ", s[1], ")");
    Pool2dParams p;
    p.planes = checked_mul(s[0], s[1], fn);
    p.h_in = s[2];
    p.w_in = s[3];
    p.h_out = g[2];
    p.w_out = g[3];
    auto gx = empty<T>({s[0], s[1], s[2], s[3]}, fn);
    const T* pg = cptr<T>(gy);
    const int64_t* pi = cptr<int64_t>(idx);
    T* pgx = gx.mutable_data();
    int64_t bad = 0;
    {
      py::gil_scoped_release release;
      bad = max_pool2d_backward(pg, pi, pgx, p);
    }
    DLX_CHECK(bad == 0, fn, ": `indices` must lie in [0, H*W) = [0, ", s[2] * s[3],
              ") (or be -1), got ", bad, " values outside");
    return gx;
  });
}

py::array avg_pool2d_forward_py(const py::object& x_obj, const py::object& kernel_size,
                                const py::object& stride, const py::object& padding, bool ceil_mode,
                                bool count_include_pad) {
  constexpr const char* fn = "avg_pool2d_forward";
  py::array x = as_array(x_obj, fn, "input");
  return dispatch(x, fn, "input", [&](auto tag) -> py::array {
    using T = decltype(tag);
    x = input<T>(x_obj, fn, "input");
    check_ndim(x, 4, fn, "input");
    const Shape4 s = shape_of(x);
    Pool2dParams p = pool_params(fn, s, kernel_size, stride, padding, nullptr, ceil_mode);
    p.count_include_pad = count_include_pad;
    auto y = empty<T>({s[0], s[1], p.h_out, p.w_out}, fn);
    const T* px = cptr<T>(x);
    T* py_ = y.mutable_data();
    {
      py::gil_scoped_release release;
      avg_pool2d_forward(px, py_, p);
    }
    return y;
  });
}

py::array avg_pool2d_backward_py(const py::object& gy_obj, const py::object& shape_obj,
                                 const py::object& kernel_size, const py::object& stride,
                                 const py::object& padding, bool ceil_mode,
                                 bool count_include_pad) {
  constexpr const char* fn = "avg_pool2d_backward";
  py::array gy = as_array(gy_obj, fn, "grad_output");
  return dispatch(gy, fn, "grad_output", [&](auto tag) -> py::array {
    using T = decltype(tag);
    gy = input<T>(gy_obj, fn, "grad_output");
    const Shape4 s = shape4_arg(shape_obj, fn);
    Pool2dParams p = pool_params(fn, s, kernel_size, stride, padding, nullptr, ceil_mode);
    p.count_include_pad = count_include_pad;
    check_shape(gy, {s[0], s[1], p.h_out, p.w_out}, fn, "grad_output");
    auto gx = empty<T>({s[0], s[1], s[2], s[3]}, fn);
    const T* pg = cptr<T>(gy);
    T* pgx = gx.mutable_data();
    {
      py::gil_scoped_release release;
      avg_pool2d_backward(pg, pgx, p);
    }
    return gx;
  });
}

}  // namespace

void bind_pool(py::module_& m) {
  m.def("max_pool2d_forward", &max_pool2d_forward_py, py::arg("input"), py::arg("kernel_size"),
        py::arg("stride") = py::none(), py::arg("padding") = 0, py::arg("dilation") = 1,
        py::arg("ceil_mode") = false,
        "(output, indices) of 2-D max pooling; indices are int64 offsets h * W + w per plane.");
  m.def("max_pool2d_backward", &max_pool2d_backward_py, py::arg("grad_output"), py::arg("indices"),
        py::arg("input_shape"),
        "grad_input of max pooling: grad_output scatter-added through indices.");
  m.def("avg_pool2d_forward", &avg_pool2d_forward_py, py::arg("input"), py::arg("kernel_size"),
        py::arg("stride") = py::none(), py::arg("padding") = 0, py::arg("ceil_mode") = false,
        py::arg("count_include_pad") = true, "2-D average pooling (PyTorch semantics).");
  m.def("avg_pool2d_backward", &avg_pool2d_backward_py, py::arg("grad_output"),
        py::arg("input_shape"), py::arg("kernel_size"), py::arg("stride") = py::none(),
        py::arg("padding") = 0, py::arg("ceil_mode") = false, py::arg("count_include_pad") = true,
        "grad_input of avg_pool2d_forward.");
}

}  // namespace dlx::bind
