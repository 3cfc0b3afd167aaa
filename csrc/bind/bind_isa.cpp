// ISA dispatch and CPU identification: the level in use, what the CPU offers, which level
// each kernel family resolved to (private helpers behind dlx.cpu_info()).
#include <pybind11/pybind11.h>

#include <string>

#include "bind/bind.h"
#include "common.h"
#include "cpu.h"
#include "dispatch.h"
#include "sgemm.h"

namespace dlx::bind {

namespace py = pybind11;

namespace {

py::dict cpu_dict() {
  const CpuInfo& cpu = cpu_info();
  py::dict d;
  d["arch"] = cpu.arch;
  d["vendor"] = cpu.vendor;
  d["model"] = cpu.model;
  d["x86_64_v3"] = cpu.x86_64_v3;
  d["x86_64_v4"] = cpu.x86_64_v4;
  py::dict cache;
  cache["l1d"] = cpu.cache.l1d;
  cache["l2"] = cpu.cache.l2;
  cache["l3"] = cpu.cache.l3;
  cache["source"] = cpu.cache.source;
  d["cache"] = cache;
  py::list built;
  for (int i = 0; i < kIsaCount; ++i)
    if (isa_built(static_cast<Isa>(i))) built.append(isa_name(static_cast<Isa>(i)));
  d["built"] = built;
  d["best"] = isa_name(isa_best());
  d["capability"] = isa_name(isa_active());
  d["native_build"] = isa_native_build();
  py::dict kernels, provided;
  for (const KernelFamilyBase* f = KernelFamilyBase::first(); f != nullptr; f = f->next()) {
    if (f->level() < 0)
      kernels[f->name()] = py::none();
    else
      kernels[f->name()] = isa_name(static_cast<Isa>(f->level()));
    py::list levels;
    for (int i = 0; i < kIsaCount; ++i)
      if (f->provides(static_cast<Isa>(i))) levels.append(isa_name(static_cast<Isa>(i)));
    provided[f->name()] = levels;
  }
  d["kernels"] = kernels;
  d["kernel_levels"] = provided;
  const SgemmBlocking b = sgemm_blocking();
  const char* gemm = own_sgemm_name();
  py::dict blocking;
  if (gemm != nullptr) {
    const SgemmKernels& k = *sgemm_kernels.get();
    blocking["mr"] = k.mr_max;
    blocking["nr"] = k.nr;
    blocking["mc"] = b.mc;
    blocking["kc"] = b.kc;
    blocking["nc"] = b.nc;
  }
  d["gemm_blocking"] = blocking;
  return d;
}

}  // namespace

void bind_isa(py::module_& m) {
  isa_active();  // resolves every kernel family for the best level the CPU supports
  m.def("_cpu_info", &cpu_dict, "CPU, dispatch level and kernel levels (see dlx.cpu_info).");
  m.def(
      "_select_cpu_capability",
      [](const std::string& name) {
        Isa level = Isa::baseline;
        DLX_CHECK(isa_from_name(name.c_str(), level),
                  "_select_cpu_capability: `name` must be 'baseline', 'avx2' or 'avx512', got '",
                  name, "'");
        return std::string(isa_name(isa_select(level)));
      },
      py::arg("name"),
      "Use the kernels of level `name`, capped at the best the CPU supports; returns the level "
      "in use. Import-time only (dlx reads DLX_CPU_CAPABILITY); never while kernels run.");
}

}  // namespace dlx::bind
