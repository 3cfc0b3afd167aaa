// ISA dispatch and CPU identification: the level in use, what the CPU offers, which level
// each kernel family resolved to (private helpers behind dlx.cpu_info()).
#include <pybind11/pybind11.h>

#include <string>

#include "bind/bind.h"
#include "common.h"
#include "cpu.h"
#include "dispatch.h"
#include "fma_peak.h"
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
  m.def(
      "_set_gemm_blocking",
      [](int64_t mc, int64_t kc, int64_t nc) {
        const bool reset = mc == 0 && kc == 0 && nc == 0;
        const SgemmKernels* k = sgemm_kernels.get();
        DLX_CHECK(reset || (k != nullptr && mc > 0 && kc >= 8 && nc >= k->nr &&
                            mc % k->mr_max == 0 && nc % k->nr == 0),
                  "_set_gemm_blocking: needs dlx's own GEMM, mc a multiple of mr, kc >= 8 and nc "
                  "a multiple of nr (or all three 0 for the automatic blocking), got mc=",
                  mc, " kc=", kc, " nc=", nc);
        set_sgemm_blocking(mc, kc, nc);
      },
      py::arg("mc"), py::arg("kc"), py::arg("nc"),
      "Fix the GEMM blocking for a tuning experiment; 0, 0, 0 restores the cache-derived one.");
  m.def(
      "_gemm_blocking_for",
      [](int64_t l1d, int64_t l2, int64_t l3) {
        const SgemmKernels* k = sgemm_kernels.get();
        DLX_CHECK(k != nullptr, "_gemm_blocking_for: the ", isa_name(isa_active()),
                  " level has no own GEMM");
        DLX_CHECK(l1d >= 4096 && l2 >= l1d && l3 >= 0,
                  "_gemm_blocking_for: needs l1d >= 4096, l2 >= l1d and l3 >= 0 bytes, got ", l1d,
                  ", ", l2, ", ", l3);
        const SgemmBlocking b = sgemm_blocking_for(*k, l1d, l2, l3);
        py::dict d;
        d["mc"] = b.mc;
        d["kc"] = b.kc;
        d["nc"] = b.nc;
        return d;
      },
      py::arg("l1d"), py::arg("l2"), py::arg("l3"),
      "The active level's GEMM blocking for other cache sizes (bytes), as cpu_info reports it.");
  m.def(
      "_fma_peak_gflops",
      [](int threads, double seconds) {
        DLX_CHECK(threads >= 1, "_fma_peak_gflops: `threads` must be >= 1, got ", threads);
        DLX_CHECK(seconds > 0 && seconds <= 60,
                  "_fma_peak_gflops: `seconds` must be in (0, 60], got ", seconds);
        py::gil_scoped_release release;
        return fma_peak_gflops(threads, seconds);
      },
      py::arg("threads") = 1, py::arg("seconds") = 0.2,
      "GFLOP/s of independent vector FMA chains at the active ISA level (0 at the baseline).");
}

}  // namespace dlx::bind
