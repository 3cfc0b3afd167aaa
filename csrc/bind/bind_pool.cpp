#include <pybind11/pybind11.h>

#include "bind/bind.h"

namespace dlx::bind {

void bind_pool(pybind11::module_& /*m*/) {}

}  // namespace dlx::bind
