#include <pybind11/pybind11.h>

#include <string>
#include <tuple>
#include <utility>

#include "bind/bind.h"
#include "bind/checks.h"
#include "conv.h"
#include "conv_algo.h"
#include "im2col.h"

namespace dlx::bind {
namespace {

// Bounds the window parameters so that no size arithmetic on them can overflow.
constexpr int64_t kMaxWindowArg = int64_t{1} << 30;

std::string pair_str(int64_t a, int64_t b) { return str("(", a, ", ", b, ")"); }

// Reads kernel_size / stride / padding / dilation and checks their ranges.
Window2d window_args(const py::object& kernel_size, const py::object& stride,
                     const py::object& padding, const py::object& dilation, const char* fn) {
  Window2d win;
  std::tie(win.kh, win.kw) = pair_arg(kernel_size, fn, "kernel_size");
  std::tie(win.stride_h, win.stride_w) = pair_arg(stride, fn, "stride");
  std::tie(win.pad_h, win.pad_w) = pair_arg(padding, fn, "padding");
  std::tie(win.dil_h, win.dil_w) = pair_arg(dilation, fn, "dilation");
  auto check = [&](int64_t a, int64_t b, int64_t lo, const char* name, const char* rule) {
    DLX_CHECK(a >= lo && b >= lo, fn, ": `", name, "` must be ", rule, ", got ", pair_str(a, b));
    DLX_CHECK(a <= kMaxWindowArg && b <= kMaxWindowArg, fn, ": `", name,
              "` is too large (limit 2**30), got ", pair_str(a, b));
  };
  check(win.kh, win.kw, 1, "kernel_size", "positive");
  check(win.stride_h, win.stride_w, 1, "stride", "positive");
  check(win.pad_h, win.pad_w, 0, "padding", "non-negative");
  check(win.dil_h, win.dil_w, 1, "dilation", "positive");
  return win;
}

// Output size of the window over an (h, w) plane; ValueError when it would be empty.
std::pair<int64_t, int64_t> out_size(int64_t h, int64_t w, const Window2d& win, const char* fn) {
  const int64_t h_out = window_out_size(h, win.kh, win.stride_h, win.pad_h, win.dil_h, false, fn);
  const int64_t w_out = window_out_size(w, win.kw, win.stride_w, win.pad_w, win.dil_w, false, fn);
  DLX_CHECK(h_out >= 1 && w_out >= 1, fn, ": output size would be ", pair_str(h_out, w_out),
            ": input size ", pair_str(h, w), " is smaller than the dilated kernel ",
            pair_str(win.dil_h * (win.kh - 1) + 1, win.dil_w * (win.kw - 1) + 1), " (kernel_size ",
            pair_str(win.kh, win.kw), ", dilation ", pair_str(win.dil_h, win.dil_w),
            ") with padding ", pair_str(win.pad_h, win.pad_w));
  return {h_out, w_out};
}

// Checks input / weight / groups (and bias) of a convolution and fills its shape.
Conv2dShape conv_shape(const py::array& x, const py::array& w, int64_t groups,
                       const py::object& stride, const py::object& padding,
                       const py::object& dilation, const char* fn) {
  check_ndim(x, 4, fn, "input");
  check_ndim(w, 4, fn, "weight");
  DLX_CHECK(groups >= 1, fn, ": `groups` must be a positive int, got ", groups);
  Conv2dShape s;
  s.n = dim(x, 0), s.c = dim(x, 1), s.h = dim(x, 2), s.w = dim(x, 3);
  s.o = dim(w, 0);
  s.groups = groups;
  DLX_CHECK(s.c % groups == 0, fn, ": `input` has ", s.c,
            " channels, which is not divisible by groups=", groups);
  DLX_CHECK(s.o % groups == 0, fn, ": `weight` has ", s.o,
            " output channels, which is not divisible by groups=", groups);
  DLX_CHECK(dim(w, 1) == s.c / groups, fn, ": `weight` has ", dim(w, 1),
            " input channels per group but `input` has ", s.c, " channels and groups=", groups,
            " (weight shape ", shape_str(w), ", input shape ", shape_str(x), ")");
  DLX_CHECK(dim(w, 2) >= 1 && dim(w, 3) >= 1, fn,
            ": `weight` must have a positive kernel size (dims 2 and 3), got shape ", shape_str(w));
  s.win = window_args(py::make_tuple(dim(w, 2), dim(w, 3)), stride, padding, dilation, fn);
  out_size(s.h, s.w, s.win, fn);
  return s;
}

py::array im2col_py(const py::object& x_obj, const py::object& kernel_size,
                    const py::object& stride, const py::object& padding,
                    const py::object& dilation) {
  constexpr const char* fn = "im2col";
  py::array x = as_array(x_obj, fn, "input");
  return dispatch(x, fn, "input", [&](auto tag) -> py::array {
    using T = decltype(tag);
    x = input<T>(x_obj, fn, "input");
    check_ndim(x, 4, fn, "input");
    const Window2d win = window_args(kernel_size, stride, padding, dilation, fn);
    const int64_t n = dim(x, 0), c = dim(x, 1), h = dim(x, 2), w = dim(x, 3);
    const auto [h_out, w_out] = out_size(h, w, win, fn);
    const int64_t rows = checked_mul(checked_mul(c, win.kh, fn), win.kw, fn);
    auto cols = empty<T>({n, rows, checked_mul(h_out, w_out, fn)}, fn);
    const T* px = cptr<T>(x);
    T* pc = cols.mutable_data();
    {
      py::gil_scoped_release release;
      im2col_batch(px, pc, n, c, h, w, win);
    }
    return cols;
  });
}

py::array col2im_py(const py::object& cols_obj, const py::object& shape_obj,
                    const py::object& kernel_size, const py::object& stride,
                    const py::object& padding, const py::object& dilation) {
  constexpr const char* fn = "col2im";
  py::array cols = as_array(cols_obj, fn, "cols");
  return dispatch(cols, fn, "cols", [&](auto tag) -> py::array {
    using T = decltype(tag);
    cols = input<T>(cols_obj, fn, "cols");
    check_ndim(cols, 3, fn, "cols");
    DLX_CHECK_TYPE(py::isinstance<py::tuple>(shape_obj) || py::isinstance<py::list>(shape_obj), fn,
                   ": `input_shape` must be a tuple of 4 ints, got ", type_name(shape_obj));
    py::sequence seq = shape_obj.cast<py::sequence>();
    DLX_CHECK(seq.size() == 4, fn, ": `input_shape` must be a tuple of 4 ints (N, C, H, W), got ",
              seq.size(), " values");
    int64_t shape[4];
    for (int i = 0; i < 4; ++i) {
      py::object item = seq[i];
      DLX_CHECK_TYPE(py::isinstance<py::int_>(item), fn,
                     ": `input_shape` must be a tuple of 4 ints, got an element of type ",
                     type_name(item));
      shape[i] = item.cast<int64_t>();
      DLX_CHECK(shape[i] >= 0, fn, ": `input_shape` must be non-negative, got a size of ",
                shape[i]);
    }
    const Window2d win = window_args(kernel_size, stride, padding, dilation, fn);
    const int64_t n = shape[0], c = shape[1], h = shape[2], w = shape[3];
    const auto [h_out, w_out] = out_size(h, w, win, fn);
    const int64_t rows = checked_mul(checked_mul(c, win.kh, fn), win.kw, fn);
    check_shape(cols, {n, rows, checked_mul(h_out, w_out, fn)}, fn, "cols");
    auto im = zeros<T>({n, c, h, w}, fn);
    const T* pc = cptr<T>(cols);
    T* pi = im.mutable_data();
    {
      py::gil_scoped_release release;
      col2im_batch(pc, pi, n, c, h, w, win);
    }
    return im;
  });
}

py::array conv2d_forward_py(const py::object& x_obj, const py::object& w_obj,
                            const py::object& b_obj, const py::object& stride,
                            const py::object& padding, const py::object& dilation, int64_t groups) {
  constexpr const char* fn = "conv2d_forward";
  py::array x = as_array(x_obj, fn, "input");
  return dispatch(x, fn, "input", [&](auto tag) -> py::array {
    using T = decltype(tag);
    x = input<T>(x_obj, fn, "input");
    py::array w = input<T>(w_obj, fn, "weight");
    const Conv2dShape s = conv_shape(x, w, groups, stride, padding, dilation, fn);
    py::array b;
    if (!b_obj.is_none()) {
      b = input<T>(b_obj, fn, "bias");
      check_shape(b, {s.o}, fn, "bias");
    }
    auto y = empty<T>({s.n, s.o, s.win.h_out(s.h), s.win.w_out(s.w)}, fn);
    const T* px = cptr<T>(x);
    const T* pw = cptr<T>(w);
    const T* pb = b_obj.is_none() ? nullptr : cptr<T>(b);
    T* py_ = y.mutable_data();
    {
      py::gil_scoped_release release;
      conv2d_forward(px, pw, pb, py_, s);
    }
    return y;
  });
}

py::tuple conv2d_backward_py(const py::object& gy_obj, const py::object& x_obj,
                             const py::object& w_obj, const py::object& stride,
                             const py::object& padding, const py::object& dilation, int64_t groups,
                             bool input_grad, bool weight_grad, bool bias_grad) {
  constexpr const char* fn = "conv2d_backward";
  py::array gy = as_array(gy_obj, fn, "grad_output");
  return dispatch(gy, fn, "grad_output", [&](auto tag) -> py::tuple {
    using T = decltype(tag);
    gy = input<T>(gy_obj, fn, "grad_output");
    py::array x = input<T>(x_obj, fn, "input");
    py::array w = input<T>(w_obj, fn, "weight");
    const Conv2dShape s = conv_shape(x, w, groups, stride, padding, dilation, fn);
    check_shape(gy, {s.n, s.o, s.win.h_out(s.h), s.win.w_out(s.w)}, fn, "grad_output");
    py::object gx = py::none(), gw = py::none(), gb = py::none();
    T *pgx = nullptr, *pgw = nullptr, *pgb = nullptr;
    if (input_grad) {
      auto a = empty<T>({s.n, s.c, s.h, s.w}, fn);
      pgx = a.mutable_data();
      gx = a;
    }
    if (weight_grad) {
      auto a = empty<T>({s.o, s.c / s.groups, s.win.kh, s.win.kw}, fn);
      pgw = a.mutable_data();
      gw = a;
    }
    if (bias_grad) {
      auto a = empty<T>({s.o}, fn);
      pgb = a.mutable_data();
      gb = a;
    }
    const T* pgy = cptr<T>(gy);
    const T* px = cptr<T>(x);
    const T* pw = cptr<T>(w);
    {
      py::gil_scoped_release release;
      conv2d_backward(pgy, px, pw, pgx, pgw, pgb, s);
    }
    return py::make_tuple(gx, gw, gb);
  });
}

// The forced algorithm's name ("auto" when none); with `name`, forces that one first.
std::string conv2d_algo_py(const py::object& name) {
  constexpr const char* fn = "_conv2d_algo";
  if (!name.is_none()) {
    DLX_CHECK_TYPE(py::isinstance<py::str>(name), fn, ": `name` must be a str, got ",
                   type_name(name));
    ConvAlgo a;
    const std::string s = name.cast<std::string>();
    DLX_CHECK(conv_algo_from_name(s, a), fn,
              ": `name` must be one of auto, implicit, im2col, depthwise, got '", s, "'");
    conv_algo_force(a);
  }
  return conv_algo_name(conv_algo_forced());
}

// The algorithm conv2d_forward / conv2d_backward would run for these arrays.
std::string conv2d_choice_py(const py::object& x_obj, const py::object& w_obj,
                             const py::object& stride, const py::object& padding,
                             const py::object& dilation, int64_t groups) {
  constexpr const char* fn = "_conv2d_choice";
  py::array x = as_array(x_obj, fn, "input");
  return dispatch(x, fn, "input", [&](auto tag) -> std::string {
    using T = decltype(tag);
    x = input<T>(x_obj, fn, "input");
    py::array w = input<T>(w_obj, fn, "weight");
    const Conv2dShape s = conv_shape(x, w, groups, stride, padding, dilation, fn);
    return conv_algo_name(conv_algo_choose(s, std::is_same_v<T, float>));
  });
}

}  // namespace

void bind_conv(py::module_& m) {
  m.def("_conv2d_algo", &conv2d_algo_py, py::arg("name") = py::none(),
        "The forced convolution algorithm (DLX_CONV_ALGO); with a name, force it first.");
  m.def("_conv2d_choice", &conv2d_choice_py, py::arg("input"), py::arg("weight"),
        py::arg("stride") = 1, py::arg("padding") = 0, py::arg("dilation") = 1,
        py::arg("groups") = 1, "The algorithm conv2d_forward would run for these arguments.");
  m.def("im2col", &im2col_py, py::arg("input"), py::arg("kernel_size"), py::arg("stride") = 1,
        py::arg("padding") = 0, py::arg("dilation") = 1,
        "Unfold (N, C, H, W) into columns (N, C*kh*kw, H_out*W_out).");
  m.def("col2im", &col2im_py, py::arg("cols"), py::arg("input_shape"), py::arg("kernel_size"),
        py::arg("stride") = 1, py::arg("padding") = 0, py::arg("dilation") = 1,
        "Fold columns (N, C*kh*kw, H_out*W_out) back into (N, C, H, W), summing overlaps.");
  m.def("conv2d_forward", &conv2d_forward_py, py::arg("input"), py::arg("weight"),
        py::arg("bias") = py::none(), py::arg("stride") = 1, py::arg("padding") = 0,
        py::arg("dilation") = 1, py::arg("groups") = 1,
        "2-D convolution of NCHW input with weight (O, C/groups, kh, kw), bias add fused.");
  m.def("conv2d_backward", &conv2d_backward_py, py::arg("grad_output"), py::arg("input"),
        py::arg("weight"), py::arg("stride") = 1, py::arg("padding") = 0, py::arg("dilation") = 1,
        py::arg("groups") = 1, py::arg("input_grad") = true, py::arg("weight_grad") = true,
        py::arg("bias_grad") = true,
        "(grad_input, grad_weight, grad_bias) of conv2d_forward; None where not requested.");
}

}  // namespace dlx::bind
