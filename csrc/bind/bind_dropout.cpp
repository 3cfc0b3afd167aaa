#include <pybind11/pybind11.h>

#include <cmath>
#include <vector>

#include "bind/bind.h"
#include "bind/checks.h"
#include "dropout.h"

namespace dlx::bind {
namespace {

void check_p(double p, const char* fn) {
  DLX_CHECK(p >= 0.0 && p <= 1.0, fn, ": `p` must be in [0, 1], got ", p);  // NaN fails too
}

// seed: any Python int (or object with __index__, not bool) in [0, 2**64).
uint64_t seed_arg(const py::object& obj, const char* fn) {
  DLX_CHECK_TYPE(!py::isinstance<py::bool_>(obj) && PyIndex_Check(obj.ptr()), fn,
                 ": `seed` must be an int in [0, 2**64), got ", type_name(obj));
  auto v = py::reinterpret_steal<py::object>(PyNumber_Index(obj.ptr()));
  if (!v) throw py::error_already_set();
  const unsigned long long s = PyLong_AsUnsignedLongLong(v.ptr());
  if (s == static_cast<unsigned long long>(-1) && PyErr_Occurred()) {
    PyErr_Clear();  // negative or >= 2**64
    throw std::invalid_argument(
        str(fn, ": `seed` must be an int in [0, 2**64), got ", std::string(py::str(v))));
  }
  return static_cast<uint64_t>(s);
}

std::vector<int64_t> shape_arg(const py::object& obj, const char* fn) {
  DLX_CHECK_TYPE(py::isinstance<py::tuple>(obj) || py::isinstance<py::list>(obj), fn,
                 ": `shape` must be a tuple of ints, got ", type_name(obj));
  std::vector<int64_t> shape;
  for (const auto& item : obj.cast<py::sequence>()) {
    DLX_CHECK_TYPE(py::isinstance<py::int_>(item) && !py::isinstance<py::bool_>(item), fn,
                   ": `shape` must be a tuple of ints, got an element of type ", type_name(item));
    const int64_t d = item.cast<int64_t>();
    DLX_CHECK(d >= 0, fn, ": `shape` must be non-negative, got ", std::string(py::str(obj)));
    shape.push_back(d);
  }
  return shape;
}

std::vector<int64_t> shape_of(const py::array& a) {
  std::vector<int64_t> s;
  for (py::ssize_t i = 0; i < a.ndim(); ++i) s.push_back(dim(a, i));
  return s;
}

py::array dropout_mask_py(const py::object& shape_obj, double p, const py::object& seed_obj) {
  constexpr const char* fn = "dropout_mask";
  const std::vector<int64_t> shape = shape_arg(shape_obj, fn);
  check_p(p, fn);
  const uint64_t seed = seed_arg(seed_obj, fn);
  auto mask = empty<uint8_t>(shape, fn);
  uint8_t* pm = mask.mutable_data();
  const int64_t n = static_cast<int64_t>(mask.size());
  {
    py::gil_scoped_release release;
    dropout_mask(pm, n, p, seed);
  }
  return mask;
}

py::tuple dropout_forward_py(const py::object& x_obj, double p, const py::object& seed_obj) {
  constexpr const char* fn = "dropout_forward";
  py::array x = as_array(x_obj, fn, "input");
  return dispatch(x, fn, "input", [&](auto tag) -> py::tuple {
    using T = decltype(tag);
    x = input<T>(x_obj, fn, "input");
    check_p(p, fn);
    const uint64_t seed = seed_arg(seed_obj, fn);
    const std::vector<int64_t> shape = shape_of(x);
    auto y = empty<T>(shape, fn);
    auto mask = empty<uint8_t>(shape, fn);
    const T* px = cptr<T>(x);
    T* py_ = y.mutable_data();
    uint8_t* pm = mask.mutable_data();
    const int64_t n = static_cast<int64_t>(x.size());
    {
      py::gil_scoped_release release;
      dropout_forward(px, py_, pm, n, p, seed);
    }
    return py::make_tuple(y, mask);
  });
}

py::array dropout_backward_py(const py::object& gy_obj, const py::object& mask_obj, double p) {
  constexpr const char* fn = "dropout_backward";
  py::array gy = as_array(gy_obj, fn, "grad_output");
  return dispatch(gy, fn, "grad_output", [&](auto tag) -> py::array {
    using T = decltype(tag);
    gy = input<T>(gy_obj, fn, "grad_output");
    py::array mask = as_array(mask_obj, fn, "mask");
    DLX_CHECK_TYPE(mask.dtype().equal(py::dtype::of<uint8_t>()), fn,
                   ": `mask` must have dtype uint8, got ", dtype_name(mask));
    check_contiguous(mask, fn, "mask");
    const std::vector<int64_t> shape = shape_of(gy);
    check_shape(mask, shape, fn, "mask");
    check_p(p, fn);
    auto gx = empty<T>(shape, fn);
    const T* pg = cptr<T>(gy);
    const uint8_t* pm = cptr<uint8_t>(mask);
    T* pgx = gx.mutable_data();
    const int64_t n = static_cast<int64_t>(gy.size());
    {
      py::gil_scoped_release release;
      dropout_backward(pg, pm, pgx, n, p);
    }
    return gx;
  });
}

}  // namespace

void bind_dropout(py::module_& m) {
  m.def("dropout_mask", &dropout_mask_py, py::arg("shape"), py::arg("p"), py::arg("seed"),
        "uint8 keep mask (1 = keep) of the given shape: a pure function of (seed, index).");
  m.def("dropout_forward", &dropout_forward_py, py::arg("input"), py::arg("p"), py::arg("seed"),
        "(output, mask): output = input * mask / (1 - p).");
  m.def("dropout_backward", &dropout_backward_py, py::arg("grad_output"), py::arg("mask"),
        py::arg("p"), "grad_input = grad_output * mask / (1 - p).");
}

}  // namespace dlx::bind
