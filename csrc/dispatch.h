// Runtime ISA dispatch: the hot kernels exist once per instruction-set level, each level's
// code in its own translation units built with that level's target flags (CMakeLists.txt),
// and one level is chosen at import from what the CPU and the OS support (cpu.h).
//
//   baseline  x86-64 (SSE2) or the architecture's default: portable C++ and the BLAS
//   avx2      x86-64-v3: AVX2, FMA, BMI1/2, F16C, LZCNT, MOVBE
//   avx512    x86-64-v4: AVX-512 F, BW, CD, DQ, VL
//
// A kernel family is a struct of function pointers (SgemmKernels, PoolKernels, ...) with one
// KernelFamily object in generic code. Each level that implements the family provides its
// table from its own units with DLX_PROVIDE_KERNELS; when the active level is chosen, every
// family resolves to the highest provided level at or below it, so a level may skip a
// family and inherit the next lower one. How to add a kernel: docs/ISA.md.
#pragma once

#include <cstdint>
#include <type_traits>

namespace dlx {

enum class Isa : int { baseline = 0, avx2 = 1, avx512 = 2 };
inline constexpr int kIsaCount = 3;

const char* isa_name(Isa level);
// The level named `name` ("baseline", "avx2", "avx512"); false for any other name.
bool isa_from_name(const char* name, Isa& level);
// Levels this binary carries (baseline only off x86-64).
bool isa_built(Isa level);
// The highest level both the CPU (CPUID + XGETBV) and the binary support.
Isa isa_best();
// The level in use: isa_best() unless isa_select chose a lower one.
Isa isa_active();
// Makes `level` (capped at isa_best()) the level in use and resolves every family again.
// Called at import (dlx/_native.py: DLX_CPU_CAPABILITY) and by tests; never while kernels
// run. Returns the level now in use.
Isa isa_select(Isa level);
// True for DLX_NATIVE=ON builds (every unit compiled with -march=native).
bool isa_native_build();

class KernelFamilyBase {
 public:
  constexpr explicit KernelFamilyBase(const char* name) : name_(name) {}
  KernelFamilyBase(const KernelFamilyBase&) = delete;
  KernelFamilyBase& operator=(const KernelFamilyBase&) = delete;
  const char* name() const { return name_; }
  // Level of the table in use, -1 when no level at or below the active one provides one.
  int level() const { return level_; }
  bool provides(Isa level) const { return tables_[static_cast<int>(level)] != nullptr; }

  // First family provided by any level, then next(); for reports.
  static const KernelFamilyBase* first();
  const KernelFamilyBase* next() const { return next_; }

 protected:
  void add(int level, const void* table);  // out of line: level units call it at load
  const void* active_ = nullptr;

 private:
  friend Isa isa_select(Isa level);
  void resolve(int active);
  const char* name_;
  const void* tables_[kIsaCount] = {};
  int level_ = -1;
  KernelFamilyBase* next_ = nullptr;
};

template <typename Table>
class KernelFamily : public KernelFamilyBase {
 public:
  using KernelFamilyBase::KernelFamilyBase;
  // The active level's table, or nullptr: callers then take their portable path.
  const Table* get() const { return static_cast<const Table*>(active_); }
  void provide(Isa level, const Table* table) { add(static_cast<int>(level), table); }
};

// A family of templated kernels: one table per floating type (the types of DLX_INSTANTIATE).
template <template <typename> class Fns>
struct PerType {
  Fns<float> f32;
  Fns<double> f64;
  template <typename T>
  const Fns<T>& of() const {
    if constexpr (std::is_same_v<T, float>)
      return f32;
    else
      return f64;
  }
};

}  // namespace dlx

#define DLX_ISA_CONCAT_(a, b) a##b
#define DLX_ISA_CONCAT(a, b) DLX_ISA_CONCAT_(a, b)

// In a level unit (DLX_ISA_LEVEL is defined by CMake for it, never for generic code):
// registers `table`, an object of static storage duration, as this level's entry of
// `family`. Runs while the module loads, on any CPU, so it only stores two pointers.
#define DLX_PROVIDE_KERNELS(family, table)                                        \
  namespace {                                                                     \
  [[maybe_unused]] const bool DLX_ISA_CONCAT(dlx_provided_, __LINE__) =           \
      ((family).provide(static_cast<::dlx::Isa>(DLX_ISA_LEVEL), &(table)), true); \
  }
