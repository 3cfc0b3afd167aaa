#include "alloc.h"

#include <cstdlib>
#include <cstring>
#include <initializer_list>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace dlx {

bool tune_allocator() {
#if defined(__GLIBC__)
  const char* opt = std::getenv("DLX_MALLOC_TUNING");
  if (opt != nullptr && std::strcmp(opt, "0") == 0) return false;
  for (const char* var : {"MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_"})
    if (std::getenv(var) != nullptr) return false;
  constexpr int kMiB = 1 << 20;
  bool ok = mallopt(M_MMAP_THRESHOLD, 32 * kMiB) != 0;
  ok = mallopt(M_TRIM_THRESHOLD, 256 * kMiB) != 0 && ok;
  ok = mallopt(M_TOP_PAD, 64 * kMiB) != 0 && ok;
  return ok;
#else
  return false;
#endif
}

}  // namespace dlx
