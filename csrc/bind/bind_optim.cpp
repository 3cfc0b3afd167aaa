#include <pybind11/pybind11.h>

#include "bind/bind.h"

namespace dlx::bind {

void bind_optim(pybind11::module_& /*m*/) {}

}  // namespace dlx::bind
