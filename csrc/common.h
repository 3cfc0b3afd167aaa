// Shared helpers for dlx kernels: argument checks that throw (never abort), overflow-checked
// size arithmetic, and the float/double instantiation list.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <limits>
#include <memory>
#include <new>
#include <sstream>
#include <stdexcept>
#include <string>

namespace dlx {

// Builds a message from any streamable pieces: dlx::str("got ndim=", 3).
template <typename... Args>
std::string str(const Args&... args) {
  std::ostringstream os;
  (os << ... << args);
  return os.str();
}

// Thrown for bad argument values; pybind11 maps std::invalid_argument to ValueError.
#define DLX_CHECK(cond, ...)                                           \
  do {                                                                 \
    if (!(cond)) throw std::invalid_argument(::dlx::str(__VA_ARGS__)); \
  } while (0)

// Thrown for bad argument types (dtype); registered as TypeError in the module.
struct type_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};
#define DLX_CHECK_TYPE(cond, ...)                                  \
  do {                                                             \
    if (!(cond)) throw ::dlx::type_error(::dlx::str(__VA_ARGS__)); \
  } while (0)

// a * b for sizes, throwing instead of wrapping around.
inline int64_t checked_mul(int64_t a, int64_t b, const char* what) {
  DLX_CHECK(a >= 0 && b >= 0, what, ": negative size (", a, " x ", b, ")");
  if (a != 0 && b > std::numeric_limits<int64_t>::max() / a) {
    throw std::invalid_argument(str(what, ": size ", a, " x ", b, " overflows int64"));
  }
  return a * b;
}

// An uninitialised array of n T on a 64-byte boundary (operator new gives 16): rows whose
// stride is a multiple of 64 bytes then never straddle cache lines.
struct FreeDeleter {
  void operator()(void* p) const { std::free(p); }
};
template <typename T>
using AlignedArray = std::unique_ptr<T[], FreeDeleter>;
template <typename T>
AlignedArray<T> aligned_array(int64_t n) {
  const size_t bytes = (static_cast<size_t>(n) * sizeof(T) + 63) / 64 * 64;
  void* p = std::aligned_alloc(64, bytes == 0 ? 64 : bytes);
  if (p == nullptr) throw std::bad_alloc();
  return AlignedArray<T>(static_cast<T*>(p));
}

// a + b and a * b for sizes, or false when the exact result does not fit int64.
inline bool add_fits(int64_t a, int64_t b, int64_t* out) { return !__builtin_add_overflow(a, b, out); }
inline bool mul_fits(int64_t a, int64_t b, int64_t* out) { return !__builtin_mul_overflow(a, b, out); }

// Output length of a convolution / pooling window along one axis (floor or ceil mode).
// Every intermediate is checked before it is formed: sizes and padding a caller passes
// (a col2im input_shape, a pooling backward's input_shape) may be close to INT64_MAX, and
// the error then shows those values, never a wrapped one. fn prefixes the message.
inline int64_t window_out_size(int64_t in, int64_t k, int64_t stride, int64_t pad, int64_t dilation,
                               bool ceil_mode = false, const char* fn = "window_out_size") {
  DLX_CHECK(in >= 0 && k >= 1 && stride >= 1 && pad >= 0 && dilation >= 1, fn,
            ": invalid window: input size ", in, ", kernel ", k, ", stride ", stride, ", padding ",
            pad, ", dilation ", dilation);
  int64_t span = 0, padded = 0, num = 0, a = 0;
  const bool fits = mul_fits(dilation, k - 1, &span) && add_fits(span, 1, &span) &&
                    mul_fits(pad, 2, &padded) && add_fits(in, padded, &padded) &&
                    add_fits(padded, -span, &num) && add_fits(num, ceil_mode ? stride - 1 : 0, &a);
  DLX_CHECK(fits, fn, ": input size ", in, " with padding ", pad, " on each side, kernel size ", k,
            ", dilation ", dilation, " and stride ", stride, " overflows 64-bit size arithmetic");
  // Floor division as PyTorch's div_rtn: in ceil mode a window longer than the padded
  // input (num in (-stride, 0)) still gives one output, as in PyTorch. No overflow below:
  // |a / stride| <= |a| and in + pad <= padded.
  int64_t out = a / stride - (a % stride != 0 && a < 0) + 1;
  // PyTorch's rule: the last window must start inside the input or left padding, i.e.
  // (out - 1) * stride < in + pad, compared without forming the product.
  const int64_t limit = in + pad;
  if (ceil_mode && out - 1 >= limit / stride + (limit % stride != 0)) --out;
  return out > 0 ? out : 0;
}

}  // namespace dlx

// One instantiation list for every templated kernel: DLX_INSTANTIATE(MACRO) expands
// MACRO(float) and MACRO(double).
#define DLX_INSTANTIATE(MACRO) \
  MACRO(float)                 \
  MACRO(double)
