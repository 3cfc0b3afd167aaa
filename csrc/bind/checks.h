// Argument checks shared by the bindings. Bindings are the only code that sees pybind11:
// they take numpy arrays as py::object, check type, dtype, ndim, shape and contiguity,
// allocate outputs with the GIL held, then release it around the kernel.
//
// Policy: every array argument must be a numpy.ndarray of exactly float32 or float64
// (int64 for labels / indices), C-contiguous, with all float arguments of one dtype.
// Nothing is converted silently; the Python layer converts where that is wanted.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "common.h"

namespace dlx::bind {

namespace py = pybind11;

inline std::string shape_str(const py::array& a) {
  std::string s = "(";
  for (py::ssize_t i = 0; i < a.ndim(); ++i) {
    s += std::to_string(a.shape(i));
    if (a.ndim() == 1 || i + 1 < a.ndim()) s += a.ndim() == 1 ? "," : ", ";
  }
  return s + ")";
}

inline std::string type_name(const py::handle& obj) {
  return py::str(py::type::handle_of(obj).attr("__name__"));
}

inline std::string dtype_name(const py::array& a) { return py::str(a.dtype()); }

// obj must be a numpy.ndarray; returns it without conversion.
inline py::array as_array(const py::object& obj, const char* fn, const char* name) {
  DLX_CHECK_TYPE(py::isinstance<py::array>(obj), fn, ": `", name, "` must be a numpy.ndarray, got ",
                 type_name(obj));
  return py::reinterpret_borrow<py::array>(obj);
}

enum class DType { f32, f64 };

// a must be float32 or float64 (TypeError otherwise).
inline DType float_dtype(const py::array& a, const char* fn, const char* name) {
  if (a.dtype().equal(py::dtype::of<float>())) return DType::f32;
  if (a.dtype().equal(py::dtype::of<double>())) return DType::f64;
  throw type_error(str(fn, ": `", name, "` must be float32 or float64, got ", dtype_name(a)));
}

template <typename T>
inline void check_dtype(const py::array& a, const char* fn, const char* name) {
  DLX_CHECK_TYPE(a.dtype().equal(py::dtype::of<T>()), fn, ": `", name, "` must have dtype ",
                 std::string(py::str(py::dtype::of<T>())), " (the dtype of the other arrays), got ",
                 dtype_name(a));
}

inline void check_contiguous(const py::array& a, const char* fn, const char* name) {
  DLX_CHECK(a.flags() & py::array::c_style, fn, ": `", name,
            "` must be C-contiguous (use numpy.ascontiguousarray), got strides that are not");
}

inline void check_ndim(const py::array& a, py::ssize_t nd, const char* fn, const char* name) {
  DLX_CHECK(a.ndim() == nd, fn, ": `", name, "` must be ", nd, "-D, got ndim=", a.ndim(),
            " with shape ", shape_str(a));
}

// Checks shape against expected; -1 in expected matches any length.
inline void check_shape(const py::array& a, const std::vector<int64_t>& expected, const char* fn,
                        const char* name) {
  bool ok = a.ndim() == static_cast<py::ssize_t>(expected.size());
  for (size_t i = 0; ok && i < expected.size(); ++i)
    ok = expected[i] < 0 || a.shape(static_cast<py::ssize_t>(i)) == expected[i];
  if (!ok) {
    std::string e = "(";
    for (size_t i = 0; i < expected.size(); ++i) {
      e += expected[i] < 0 ? std::string("*") : std::to_string(expected[i]);
      if (expected.size() == 1 || i + 1 < expected.size()) e += expected.size() == 1 ? "," : ", ";
    }
    throw std::invalid_argument(
        str(fn, ": `", name, "` must have shape ", e, "), got ", shape_str(a)));
  }
}

template <typename T>
inline py::array_t<T> empty(const std::vector<int64_t>& shape, const char* fn);

// NumPy allows data that are not aligned to the item size (np.frombuffer at an odd offset,
// a memory map of a safetensors file whose header length is not a multiple of 8); the
// kernels load T directly, which needs alignment. A misaligned C-contiguous read-only
// argument is therefore copied into a fresh aligned array (the only copy a binding makes).
inline bool is_aligned(const py::array& a) {
  return reinterpret_cast<uintptr_t>(a.data()) % static_cast<uintptr_t>(a.itemsize()) == 0;
}
template <typename T>
inline py::array aligned(const py::array& a, const char* fn) {
  if (is_aligned(a)) return a;
  std::vector<int64_t> shape(a.shape(), a.shape() + a.ndim());
  py::array_t<T> copy = empty<T>(shape, fn);
  std::memcpy(copy.mutable_data(), a.data(), static_cast<size_t>(a.nbytes()));
  return std::move(copy);
}

// A read-only float input of dtype T: ndarray, exact dtype, C-contiguous (aligned: see above).
template <typename T>
inline py::array input(const py::object& obj, const char* fn, const char* name) {
  py::array a = as_array(obj, fn, name);
  check_dtype<T>(a, fn, name);
  check_contiguous(a, fn, name);
  return aligned<T>(a, fn);
}

// An array written in place: exact dtype, C-contiguous, aligned and writeable. Refusing
// conversion here is what keeps an in-place update from landing in a temporary copy.
template <typename T>
inline py::array inout(const py::object& obj, const char* fn, const char* name) {
  py::array a = as_array(obj, fn, name);
  check_dtype<T>(a, fn, name);
  check_contiguous(a, fn, name);
  DLX_CHECK(is_aligned(a), fn, ": `", name, "` must be aligned to its ", a.itemsize(),
            "-byte items (it is updated in place, so it cannot be copied); use numpy.array(",
            name, ") for an aligned copy");
  DLX_CHECK(a.writeable(), fn, ": `", name, "` must be writeable (it is updated in place)");
  return a;
}

// True when the memory of two C-contiguous arrays overlaps (np.shares_memory for them).
inline bool overlaps(const py::array& a, const py::array& b) {
  if (a.nbytes() == 0 || b.nbytes() == 0) return false;
  const auto pa = reinterpret_cast<uintptr_t>(a.data());
  const auto pb = reinterpret_cast<uintptr_t>(b.data());
  return pa < pb + static_cast<uintptr_t>(b.nbytes()) &&
         pb < pa + static_cast<uintptr_t>(a.nbytes());
}

// An array the kernel writes must not overlap any other argument: the kernel would read
// values it has already overwritten and return a wrong result without any error.
inline void check_no_overlap(const py::array& out, const char* out_name, const py::array& other,
                             const char* other_name, const char* fn) {
  DLX_CHECK(!overlaps(out, other), fn, ": `", out_name, "` must not share memory with `",
            other_name, "` (it is written while `", other_name, "` is read); pass a separate array");
}

template <typename T>
inline const T* cptr(const py::array& a) {
  return static_cast<const T*>(a.data());
}
template <typename T>
inline T* mptr(py::array& a) {
  return static_cast<T*>(a.mutable_data());
}

// A new C-contiguous array of dtype T; sizes are checked for overflow first. From 4 KiB on,
// the data start on a 64-byte boundary (NumPy's allocator gives 16): rows of a kernel's
// output whose stride is a multiple of 64 bytes then never straddle cache lines (an LSTM
// forward pass ran 17% slower on a workspace 48 bytes off). A capsule owns the memory.
template <typename T>
inline py::array_t<T> empty(const std::vector<int64_t>& shape, const char* fn) {
  int64_t total = 1;
  for (int64_t d : shape) total = checked_mul(total, d, fn);
  const int64_t bytes = checked_mul(total, static_cast<int64_t>(sizeof(T)), fn);
  std::vector<py::ssize_t> s(shape.begin(), shape.end());
  if (bytes < 4096) return py::array_t<T>(s);
  AlignedArray<T> data = aligned_array<T>(total);
  py::capsule owner(data.get(), [](void* q) { std::free(q); });
  return py::array_t<T>(s, data.release(), owner);
}

template <typename T>
inline py::array_t<T> zeros(const std::vector<int64_t>& shape, const char* fn) {
  auto a = empty<T>(shape, fn);
  std::fill_n(a.mutable_data(), a.size(), T(0));
  return a;
}

// Calls f(T{}) with T = float or double according to the dtype of `a`.
template <typename F>
decltype(auto) dispatch(const py::array& a, const char* fn, const char* name, F&& f) {
  if (float_dtype(a, fn, name) == DType::f32) return f(float{});
  return f(double{});
}

inline int64_t dim(const py::array& a, py::ssize_t i) { return static_cast<int64_t>(a.shape(i)); }

// An int argument that must be a Python int (bool refused), for sizes and counts.
inline int64_t int_arg(const py::handle& obj, const char* fn, const char* name) {
  DLX_CHECK_TYPE(py::isinstance<py::int_>(obj) && !py::isinstance<py::bool_>(obj), fn, ": `", name,
                 "` must be an int or a pair of ints, got ", type_name(obj));
  return obj.cast<int64_t>();
}

// A pair argument (kernel size, stride ...) given as an int or a tuple/list of two ints.
inline std::pair<int64_t, int64_t> pair_arg(const py::object& obj, const char* fn,
                                            const char* name) {
  if (py::isinstance<py::int_>(obj) && !py::isinstance<py::bool_>(obj)) {
    const int64_t v = obj.cast<int64_t>();
    return {v, v};
  }
  DLX_CHECK_TYPE(py::isinstance<py::tuple>(obj) || py::isinstance<py::list>(obj), fn, ": `", name,
                 "` must be an int or a pair of ints, got ", type_name(obj));
  py::sequence seq = obj.cast<py::sequence>();
  DLX_CHECK(seq.size() == 2, fn, ": `", name, "` must be an int or a pair of ints, got ",
            seq.size(), " values");
  return {int_arg(seq[0], fn, name), int_arg(seq[1], fn, name)};
}

}  // namespace dlx::bind
