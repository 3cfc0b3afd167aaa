#include <pybind11/pybind11.h>

#include <cmath>
#include <vector>

#include "batchnorm.h"
#include "bind/bind.h"
#include "bind/checks.h"

namespace dlx::bind {
namespace {

// The input viewed as (n, c, s): s is the product of the spatial sizes.
struct NCS {
  int64_t n, c, s;
  std::vector<int64_t> shape;
};

NCS ncs_of(const py::array& x, const char* fn, const char* name) {
  DLX_CHECK(x.ndim() >= 2, fn, ": `", name,
            "` must be at least 2-D (N, C, *spatial), got ndim=", x.ndim(), " with shape ",
            shape_str(x));
  NCS r{dim(x, 0), dim(x, 1), 1, {}};
  for (py::ssize_t i = 0; i < x.ndim(); ++i) r.shape.push_back(dim(x, i));
  for (py::ssize_t i = 2; i < x.ndim(); ++i) r.s = checked_mul(r.s, dim(x, i), fn);
  checked_mul(checked_mul(r.n, r.c, fn), r.s, fn);
  return r;
}

// An optional per-channel array of shape (c,); nullptr when None.
template <typename T>
const T* optional_channel(const py::object& obj, int64_t c, const char* fn, const char* name,
                          py::array& keep) {
  if (obj.is_none()) return nullptr;
  keep = input<T>(obj, fn, name);
  check_shape(keep, {c}, fn, name);
  return cptr<T>(keep);
}

py::tuple batch_norm_forward_py(const py::object& x_obj, const py::object& w_obj,
                                const py::object& b_obj, const py::object& rm_obj,
                                const py::object& rv_obj, bool training, double momentum,
                                double eps) {
  constexpr const char* fn = "batch_norm_forward";
  py::array x = as_array(x_obj, fn, "input");
  return dispatch(x, fn, "input", [&](auto tag) -> py::tuple {
    using T = decltype(tag);
    x = input<T>(x_obj, fn, "input");
    const NCS d = ncs_of(x, fn, "input");
    py::array w, b, rm, rv;
    const T* pw = optional_channel<T>(w_obj, d.c, fn, "weight", w);
    const T* pb = optional_channel<T>(b_obj, d.c, fn, "bias", b);
    DLX_CHECK(rm_obj.is_none() == rv_obj.is_none(), fn,
              ": `running_mean` and `running_var` must both be arrays or both be None");
    T *prm = nullptr, *prv = nullptr;
    if (!rm_obj.is_none()) {
      // Written in place in training mode: refuse any conversion (it would lose the update).
      rm = training ? inout<T>(rm_obj, fn, "running_mean") : input<T>(rm_obj, fn, "running_mean");
      rv = training ? inout<T>(rv_obj, fn, "running_var") : input<T>(rv_obj, fn, "running_var");
      check_shape(rm, {d.c}, fn, "running_mean");
      check_shape(rv, {d.c}, fn, "running_var");
      if (training) {  // both are updated in place
        const std::pair<const char*, const py::array*> read[] = {
            {"input", &x}, {"weight", &w}, {"bias", &b}, {"running_var", &rv}};
        for (const auto& [name, arr] : read) {
          check_no_overlap(rm, "running_mean", *arr, name, fn);
          if (arr != &rv) check_no_overlap(rv, "running_var", *arr, name, fn);
        }
      }
      // In eval mode the kernel only reads them (they may be read-only arrays).
      prm = training ? mptr<T>(rm) : const_cast<T*>(cptr<T>(rm));
      prv = training ? mptr<T>(rv) : const_cast<T*>(cptr<T>(rv));
    } else {
      DLX_CHECK(training, fn,
                ": `running_mean` and `running_var` must be given when `training` is False");
    }
    DLX_CHECK(std::isfinite(momentum), fn, ": `momentum` must be finite, got ", momentum);
    DLX_CHECK(std::isfinite(eps) && eps >= 0.0, fn, ": `eps` must be finite and >= 0, got ", eps);
    DLX_CHECK(!training || d.n * d.s != 1, fn,
              ": Expected more than 1 value per channel when training, got input size ",
              shape_str(x));
    auto y = empty<T>(d.shape, fn);
    auto save_mean = empty<T>({d.c}, fn);
    auto save_invstd = empty<T>({d.c}, fn);
    const T* px = cptr<T>(x);
    T* py_ = y.mutable_data();
    T* psm = save_mean.mutable_data();
    T* psi = save_invstd.mutable_data();
    {
      py::gil_scoped_release release;
      batch_norm_forward(px, pw, pb, prm, prv, py_, psm, psi, d.n, d.c, d.s, training, momentum,
                         eps);
    }
    return py::make_tuple(y, save_mean, save_invstd);
  });
}

py::tuple batch_norm_backward_py(const py::object& gy_obj, const py::object& x_obj,
                                 const py::object& w_obj, const py::object& sm_obj,
                                 const py::object& si_obj, bool training) {
  constexpr const char* fn = "batch_norm_backward";
  py::array gy = as_array(gy_obj, fn, "grad_output");
  return dispatch(gy, fn, "grad_output", [&](auto tag) -> py::tuple {
    using T = decltype(tag);
    gy = input<T>(gy_obj, fn, "grad_output");
    py::array x = input<T>(x_obj, fn, "input");
    const NCS d = ncs_of(x, fn, "input");
    check_shape(gy, d.shape, fn, "grad_output");
    py::array w;
    const T* pw = optional_channel<T>(w_obj, d.c, fn, "weight", w);
    py::array sm = input<T>(sm_obj, fn, "save_mean");
    py::array si = input<T>(si_obj, fn, "save_invstd");
    check_shape(sm, {d.c}, fn, "save_mean");
    check_shape(si, {d.c}, fn, "save_invstd");
    auto gx = empty<T>(d.shape, fn);
    auto gb = empty<T>({d.c}, fn);
    py::object gw_obj = py::none();
    T* pgw = nullptr;
    if (pw != nullptr) {
      auto a = empty<T>({d.c}, fn);
      pgw = a.mutable_data();
      gw_obj = a;
    }
    const T* pgy = cptr<T>(gy);
    const T* px = cptr<T>(x);
    const T* psm = cptr<T>(sm);
    const T* psi = cptr<T>(si);
    T* pgx = gx.mutable_data();
    T* pgb = gb.mutable_data();
    {
      py::gil_scoped_release release;
      batch_norm_backward(pgy, px, pw, psm, psi, pgx, pgw, pgb, d.n, d.c, d.s, training);
    }
    return py::make_tuple(gx, gw_obj, gb);
  });
}

}  // namespace

void bind_batchnorm(py::module_& m) {
  m.def("batch_norm_forward", &batch_norm_forward_py, py::arg("input"), py::arg("weight"),
        py::arg("bias"), py::arg("running_mean"), py::arg("running_var"), py::arg("training"),
        py::arg("momentum") = 0.1, py::arg("eps") = 1e-5,
        "(output, save_mean, save_invstd) of batch norm over axis 1; in training mode the "
        "running statistics are updated in place.");
  m.def("batch_norm_backward", &batch_norm_backward_py, py::arg("grad_output"), py::arg("input"),
        py::arg("weight"), py::arg("save_mean"), py::arg("save_invstd"), py::arg("training"),
        "(grad_input, grad_weight, grad_bias) of batch_norm_forward; grad_weight is None "
        "when weight is None.");
}

}  // namespace dlx::bind
