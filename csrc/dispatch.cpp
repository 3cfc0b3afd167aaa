// Level selection and family resolution (see dispatch.h). Generic code.
#include "dispatch.h"

#include <atomic>
#include <cstring>

#include "cpu.h"

namespace dlx {
namespace {

// Families some level provided, linked through next_ (filled while the module loads,
// single-threaded, before any dynamic initializer of generic code can read it).
KernelFamilyBase* g_families = nullptr;
std::atomic<int> g_active{-1};

constexpr const char* kNames[kIsaCount] = {"baseline", "avx2", "avx512"};

}  // namespace

const char* isa_name(Isa level) { return kNames[static_cast<int>(level)]; }

bool isa_from_name(const char* name, Isa& level) {
  for (int i = 0; i < kIsaCount; ++i) {
    if (std::strcmp(name, kNames[i]) == 0) {
      level = static_cast<Isa>(i);
      return true;
    }
  }
  return false;
}

bool isa_built(Isa level) {
  switch (level) {
    case Isa::baseline:
      return true;
    case Isa::avx2:
      return DLX_ISA_BUILT_AVX2 != 0;
    case Isa::avx512:
      return DLX_ISA_BUILT_AVX512 != 0;
  }
  return false;
}

bool isa_native_build() { return DLX_ISA_NATIVE_BUILD != 0; }

Isa isa_best() {
  const CpuInfo& cpu = cpu_info();
  if (cpu.x86_64_v4 && isa_built(Isa::avx512)) return Isa::avx512;
  if (cpu.x86_64_v3 && isa_built(Isa::avx2)) return Isa::avx2;
  return Isa::baseline;
}

Isa isa_active() {
  int a = g_active.load(std::memory_order_acquire);
  if (a < 0) a = static_cast<int>(isa_select(isa_best()));
  return static_cast<Isa>(a);
}

Isa isa_select(Isa level) {
  const int best = static_cast<int>(isa_best());
  const int chosen = static_cast<int>(level) < best ? static_cast<int>(level) : best;
  for (KernelFamilyBase* f = g_families; f != nullptr; f = f->next_) f->resolve(chosen);
  g_active.store(chosen, std::memory_order_release);
  return static_cast<Isa>(chosen);
}

const KernelFamilyBase* KernelFamilyBase::first() { return g_families; }

void KernelFamilyBase::add(int level, const void* table) {
  bool listed = false;
  for (const void* t : tables_) listed = listed || t != nullptr;
  tables_[level] = table;
  if (!listed) {
    next_ = g_families;
    g_families = this;
  }
}

void KernelFamilyBase::resolve(int active) {
  active_ = nullptr;
  level_ = -1;
  for (int l = active; l >= 0; --l) {
    if (tables_[l] != nullptr) {
      active_ = tables_[l];
      level_ = l;
      return;
    }
  }
}

}  // namespace dlx
