#include <pybind11/pybind11.h>

#include <cmath>
#include <vector>

#include "bind/bind.h"
#include "bind/checks.h"
#include "embedding.h"
#include "norm.h"

namespace dlx::bind {
namespace {

std::vector<int64_t> shape_of(const py::array& a) {
  return std::vector<int64_t>(a.shape(), a.shape() + a.ndim());
}

// An optional float array of dtype T and the given shape; nullptr when None.
template <typename T>
const T* optional_input(const py::object& obj, const std::vector<int64_t>& shape, const char* fn,
                        const char* name, py::array& keep) {
  if (obj.is_none()) return nullptr;
  keep = input<T>(obj, fn, name);
  check_shape(keep, shape, fn, name);
  return cptr<T>(keep);
}

// x viewed as (m, n): n is the product of the last `normalized_ndim` sizes.
std::pair<int64_t, int64_t> rows_of(const py::array& x, int64_t normalized_ndim, const char* fn) {
  DLX_CHECK(normalized_ndim >= 1 && normalized_ndim <= x.ndim(), fn,
            ": `normalized_ndim` must be in [1, input.ndim=", x.ndim(), "], got ",
            normalized_ndim);
  int64_t m = 1, n = 1;
  const int64_t lead = x.ndim() - normalized_ndim;
  for (int64_t i = 0; i < x.ndim(); ++i) {
    if (i < lead)
      m = checked_mul(m, dim(x, i), fn);
    else
      n = checked_mul(n, dim(x, i), fn);
  }
  checked_mul(m, n, fn);
  return {m, n};
}

void check_eps(double eps, const char* fn) {
  DLX_CHECK(std::isfinite(eps) && eps >= 0.0, fn, ": `eps` must be finite and >= 0, got ", eps);
}

py::tuple layer_norm_forward_py(const py::object& x_obj, int64_t normalized_ndim,
                                const py::object& w_obj, const py::object& b_obj, double eps,
                                bool center) {
  constexpr const char* fn = "layer_norm_forward";
  py::array x = as_array(x_obj, fn, "input");
  return dispatch(x, fn, "input", [&](auto tag) -> py::tuple {
    using T = decltype(tag);
    x = input<T>(x_obj, fn, "input");
    const auto [m, n] = rows_of(x, normalized_ndim, fn);
    const std::vector<int64_t> shape = shape_of(x);
    const std::vector<int64_t> pshape(shape.end() - normalized_ndim, shape.end());
    std::vector<int64_t> sshape(shape.begin(), shape.end() - normalized_ndim);
    for (int64_t i = 0; i < normalized_ndim; ++i) sshape.push_back(1);
    py::array w, b;
    const T* pw = optional_input<T>(w_obj, pshape, fn, "weight", w);
    const T* pb = optional_input<T>(b_obj, pshape, fn, "bias", b);
    DLX_CHECK(center || pb == nullptr, fn, ": `bias` must be None when `center` is False");
    check_eps(eps, fn);
    auto y = empty<T>(shape, fn);
    auto mean = empty<T>(sshape, fn);
    auto rstd = empty<T>(sshape, fn);
    const T* px = cptr<T>(x);
    T* py_ = y.mutable_data();
    T* pm = mean.mutable_data();
    T* pr = rstd.mutable_data();
    {
      py::gil_scoped_release release;
      layer_norm_forward(px, pw, pb, py_, center ? pm : nullptr, pr, m, n, eps, center);
    }
    if (!center) std::fill_n(pm, m, T(0));
    return py::make_tuple(y, mean, rstd);
  });
}

py::tuple layer_norm_backward_py(const py::object& gy_obj, const py::object& x_obj,
                                 int64_t normalized_ndim, const py::object& w_obj,
                                 const py::object& mean_obj, const py::object& rstd_obj,
                                 bool center, bool need_input, bool need_weight, bool need_bias) {
  constexpr const char* fn = "layer_norm_backward";
  py::array gy = as_array(gy_obj, fn, "grad_output");
  return dispatch(gy, fn, "grad_output", [&](auto tag) -> py::tuple {
    using T = decltype(tag);
    gy = input<T>(gy_obj, fn, "grad_output");
    py::array x = input<T>(x_obj, fn, "input");
    const auto [m, n] = rows_of(x, normalized_ndim, fn);
    const std::vector<int64_t> shape = shape_of(x);
    const std::vector<int64_t> pshape(shape.end() - normalized_ndim, shape.end());
    check_shape(gy, shape, fn, "grad_output");
    py::array w;
    const T* pw = optional_input<T>(w_obj, pshape, fn, "weight", w);
    py::array mean = input<T>(mean_obj, fn, "mean");
    py::array rstd = input<T>(rstd_obj, fn, "rstd");
    DLX_CHECK(mean.size() == m && rstd.size() == m, fn, ": `mean` and `rstd` must have ", m,
              " values (one per row), got ", mean.size(), " and ", rstd.size());
    py::object gx_obj = py::none(), gw_obj = py::none(), gb_obj = py::none();
    T *pgx = nullptr, *pgw = nullptr, *pgb = nullptr;
    if (need_input) {
      auto a = empty<T>(shape, fn);
      pgx = a.mutable_data();
      gx_obj = a;
    }
    if (need_weight && pw != nullptr) {
      auto a = empty<T>(pshape, fn);
      pgw = a.mutable_data();
      gw_obj = a;
    }
    if (need_bias) {
      auto a = empty<T>(pshape, fn);
      pgb = a.mutable_data();
      gb_obj = a;
    }
    const T* pgy = cptr<T>(gy);
    const T* px = cptr<T>(x);
    const T* pm = cptr<T>(mean);
    const T* pr = cptr<T>(rstd);
    {
      py::gil_scoped_release release;
      layer_norm_backward(pgy, px, pw, pm, pr, pgx, pgw, pgb, m, n, center);
    }
    return py::make_tuple(gx_obj, gw_obj, gb_obj);
  });
}

struct NCS {
  int64_t n, c, s;
};

NCS group_dims(const py::array& x, int64_t groups, const char* fn) {
  DLX_CHECK(x.ndim() >= 2, fn, ": `input` must be at least 2-D (N, C, *), got shape ",
            shape_str(x));
  NCS d{dim(x, 0), dim(x, 1), 1};
  for (py::ssize_t i = 2; i < x.ndim(); ++i) d.s = checked_mul(d.s, dim(x, i), fn);
  checked_mul(checked_mul(d.n, d.c, fn), d.s, fn);
  DLX_CHECK(groups >= 1 && d.c % groups == 0, fn, ": `num_groups` must divide the ", d.c,
            " channels, got ", groups);
  return d;
}

py::tuple group_norm_forward_py(const py::object& x_obj, int64_t groups, const py::object& w_obj,
                                const py::object& b_obj, double eps) {
  constexpr const char* fn = "group_norm_forward";
  py::array x = as_array(x_obj, fn, "input");
  return dispatch(x, fn, "input", [&](auto tag) -> py::tuple {
    using T = decltype(tag);
    x = input<T>(x_obj, fn, "input");
    const NCS d = group_dims(x, groups, fn);
    py::array w, b;
    const T* pw = optional_input<T>(w_obj, {d.c}, fn, "weight", w);
    const T* pb = optional_input<T>(b_obj, {d.c}, fn, "bias", b);
    check_eps(eps, fn);
    auto y = empty<T>(shape_of(x), fn);
    auto mean = empty<T>({d.n, groups}, fn);
    auto rstd = empty<T>({d.n, groups}, fn);
    const T* px = cptr<T>(x);
    T* py_ = y.mutable_data();
    T* pm = mean.mutable_data();
    T* pr = rstd.mutable_data();
    {
      py::gil_scoped_release release;
      group_norm_forward(px, pw, pb, py_, pm, pr, d.n, d.c, d.s, groups, eps);
    }
    return py::make_tuple(y, mean, rstd);
  });
}

py::tuple group_norm_backward_py(const py::object& gy_obj, const py::object& x_obj,
                                 int64_t groups, const py::object& w_obj,
                                 const py::object& mean_obj, const py::object& rstd_obj,
                                 bool need_input, bool need_weight, bool need_bias) {
  constexpr const char* fn = "group_norm_backward";
  py::array gy = as_array(gy_obj, fn, "grad_output");
  return dispatch(gy, fn, "grad_output", [&](auto tag) -> py::tuple {
    using T = decltype(tag);
    gy = input<T>(gy_obj, fn, "grad_output");
    py::array x = input<T>(x_obj, fn, "input");
    const NCS d = group_dims(x, groups, fn);
    check_shape(gy, shape_of(x), fn, "grad_output");
    py::array w;
    const T* pw = optional_input<T>(w_obj, {d.c}, fn, "weight", w);
    py::array mean = input<T>(mean_obj, fn, "mean");
    py::array rstd = input<T>(rstd_obj, fn, "rstd");
    check_shape(mean, {d.n, groups}, fn, "mean");
    check_shape(rstd, {d.n, groups}, fn, "rstd");
    py::object gx_obj = py::none(), gw_obj = py::none(), gb_obj = py::none();
    T *pgx = nullptr, *pgw = nullptr, *pgb = nullptr;
    if (need_input) {
      auto a = empty<T>(shape_of(x), fn);
      pgx = a.mutable_data();
      gx_obj = a;
    }
    if (need_weight && pw != nullptr) {
      auto a = empty<T>({d.c}, fn);
      pgw = a.mutable_data();
      gw_obj = a;
    }
    if (need_bias) {
      auto a = empty<T>({d.c}, fn);
      pgb = a.mutable_data();
      gb_obj = a;
    }
    const T* pgy = cptr<T>(gy);
    const T* px = cptr<T>(x);
    const T* pm = cptr<T>(mean);
    const T* pr = cptr<T>(rstd);
    {
      py::gil_scoped_release release;
      group_norm_backward(pgy, px, pw, pm, pr, pgx, pgw, pgb, d.n, d.c, d.s, groups);
    }
    return py::make_tuple(gx_obj, gw_obj, gb_obj);
  });
}

// int64 indices, C-contiguous, every value in [0, v).
py::array embedding_indices(const py::object& obj, int64_t v, const char* fn) {
  py::array idx = as_array(obj, fn, "indices");
  DLX_CHECK_TYPE(idx.dtype().equal(py::dtype::of<int64_t>()), fn,
                 ": `indices` must be int64, got ", dtype_name(idx));
  check_contiguous(idx, fn, "indices");
  idx = aligned<int64_t>(idx, fn);
  const int64_t* p = cptr<int64_t>(idx);
  for (py::ssize_t i = 0; i < idx.size(); ++i) {
    DLX_CHECK(p[i] >= 0 && p[i] < v, fn, ": `indices` holds ", p[i],
              ", outside the table's rows [0, ", v, ")");
  }
  return idx;
}

py::array embedding_forward_py(const py::object& w_obj, const py::object& idx_obj) {
  constexpr const char* fn = "embedding_forward";
  py::array w = as_array(w_obj, fn, "weight");
  return dispatch(w, fn, "weight", [&](auto tag) -> py::array {
    using T = decltype(tag);
    w = input<T>(w_obj, fn, "weight");
    check_ndim(w, 2, fn, "weight");
    const int64_t v = dim(w, 0), d = dim(w, 1);
    py::array idx = embedding_indices(idx_obj, v, fn);
    std::vector<int64_t> shape = shape_of(idx);
    shape.push_back(d);
    auto out = empty<T>(shape, fn);
    const int64_t l = static_cast<int64_t>(idx.size());
    const T* pw = cptr<T>(w);
    const int64_t* pi = cptr<int64_t>(idx);
    T* po = out.mutable_data();
    {
      py::gil_scoped_release release;
      embedding_forward(pw, pi, po, l, d);
    }
    return std::move(out);
  });
}

py::array embedding_backward_py(const py::object& g_obj, const py::object& idx_obj,
                                int64_t num_weights, int64_t padding_idx,
                                bool scale_grad_by_freq) {
  constexpr const char* fn = "embedding_backward";
  py::array g = as_array(g_obj, fn, "grad_output");
  return dispatch(g, fn, "grad_output", [&](auto tag) -> py::array {
    using T = decltype(tag);
    g = input<T>(g_obj, fn, "grad_output");
    DLX_CHECK(num_weights >= 0, fn, ": `num_weights` must be >= 0, got ", num_weights);
    py::array idx = embedding_indices(idx_obj, num_weights, fn);
    std::vector<int64_t> gshape = shape_of(idx);
    DLX_CHECK(g.ndim() == idx.ndim() + 1, fn, ": `grad_output` must have shape indices.shape + (",
              "embedding_dim,), got ", shape_str(g), " for indices of shape ", shape_str(idx));
    const int64_t d = dim(g, g.ndim() - 1);
    gshape.push_back(d);
    check_shape(g, gshape, fn, "grad_output");
    auto gw = empty<T>({num_weights, d}, fn);
    const int64_t l = static_cast<int64_t>(idx.size());
    const T* pg = cptr<T>(g);
    const int64_t* pi = cptr<int64_t>(idx);
    T* pgw = gw.mutable_data();
    {
      py::gil_scoped_release release;
      embedding_backward(pg, pi, pgw, l, num_weights, d, padding_idx, scale_grad_by_freq);
    }
    return std::move(gw);
  });
}

}  // namespace

void bind_norm(py::module_& m) {
  m.def("layer_norm_forward", &layer_norm_forward_py, py::arg("input"),
        py::arg("normalized_ndim"), py::arg("weight"), py::arg("bias"), py::arg("eps") = 1e-5,
        py::arg("center") = true,
        "(output, mean, rstd) of layer norm over the last `normalized_ndim` axes; "
        "center=False is RMS norm (mean returned as zeros).");
  m.def("layer_norm_backward", &layer_norm_backward_py, py::arg("grad_output"), py::arg("input"),
        py::arg("normalized_ndim"), py::arg("weight"), py::arg("mean"), py::arg("rstd"),
        py::arg("center") = true, py::arg("need_input") = true, py::arg("need_weight") = true,
        py::arg("need_bias") = true,
        "(grad_input, grad_weight, grad_bias) of layer_norm_forward; None where not needed.");
  m.def("group_norm_forward", &group_norm_forward_py, py::arg("input"), py::arg("num_groups"),
        py::arg("weight"), py::arg("bias"), py::arg("eps") = 1e-5,
        "(output, mean, rstd) of group norm over axis 1 split into num_groups groups.");
  m.def("group_norm_backward", &group_norm_backward_py, py::arg("grad_output"), py::arg("input"),
        py::arg("num_groups"), py::arg("weight"), py::arg("mean"), py::arg("rstd"),
        py::arg("need_input") = true, py::arg("need_weight") = true, py::arg("need_bias") = true,
        "(grad_input, grad_weight, grad_bias) of group_norm_forward; None where not needed.");
  m.def("embedding_forward", &embedding_forward_py, py::arg("weight"), py::arg("indices"),
        "weight[indices]: rows of the (v, d) table gathered to indices.shape + (d,).");
  m.def("embedding_backward", &embedding_backward_py, py::arg("grad_output"), py::arg("indices"),
        py::arg("num_weights"), py::arg("padding_idx") = -1,
        py::arg("scale_grad_by_freq") = false,
        "The (num_weights, d) weight gradient of embedding_forward (rows scatter-added).");
}

}  // namespace dlx::bind
