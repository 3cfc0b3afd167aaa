// Argument helpers shared by the loss bindings: the reduction string, the shape of
// grad_loss, and the loss output (0-d for mean/sum).
#pragma once

#include <string>
#include <vector>

#include "bind/checks.h"
#include "loss.h"

namespace dlx::bind {

inline std::vector<int64_t> shape_of(const py::array& a) {
  return std::vector<int64_t>(a.shape(), a.shape() + a.ndim());
}

inline Reduction parse_reduction(const std::string& r, const char* fn) {
  if (r == "mean") return Reduction::mean;
  if (r == "sum") return Reduction::sum;
  if (r == "none") return Reduction::none;
  throw std::invalid_argument(
      str(fn, ": `reduction` must be 'mean', 'sum' or 'none', got '", r, "'"));
}

// grad_loss is 0-d for mean/sum and has the per-sample loss shape for none.
inline void check_grad_loss(const py::array& g, Reduction red,
                            const std::vector<int64_t>& none_shape, const char* fn) {
  if (red == Reduction::none) return check_shape(g, none_shape, fn, "grad_loss");
  DLX_CHECK(g.ndim() == 0, fn, ": `grad_loss` must be 0-d for reduction='",
            red == Reduction::mean ? "mean" : "sum", "', got shape ", shape_str(g));
}

// A loss output: 0-d for mean/sum, else `shape`.
template <typename T>
inline py::array_t<T> loss_output(Reduction red, const std::vector<int64_t>& shape,
                                  const char* fn) {
  return empty<T>(red == Reduction::none ? shape : std::vector<int64_t>{}, fn);
}

}  // namespace dlx::bind
