// What the CPU this process runs on offers: model name, the ISA features dispatch needs
// (checked with CPUID and, for the register state the OS saves, XGETBV) and cache sizes
// (CPUID leaf 4 / 0x8000001D, else sysfs). Read once, on first use.
#pragma once

#include <cstdint>
#include <string>

namespace dlx {

struct CacheSizes {
  int64_t l1d = 0;  // bytes, per core
  int64_t l2 = 0;   // bytes, per core (or per core pair on CPUs that share it)
  int64_t l3 = 0;   // bytes, one instance (shared by `l3_sharing` logical CPUs)
  int64_t l3_sharing = 0;
  const char* source = "default";  // "cpuid", "sysfs" or "default" (nothing was readable)
};

struct CpuInfo {
  std::string arch;        // "x86_64", "aarch64", ...
  std::string vendor;      // CPUID vendor ("GenuineIntel", "AuthenticAMD"), else ""
  std::string model;       // brand string (x86) or /proc/cpuinfo's model name
  bool x86_64_v3 = false;  // AVX2 FMA BMI1 BMI2 F16C LZCNT MOVBE, YMM state enabled by the OS
  bool x86_64_v4 = false;  // v3 + AVX-512 F BW CD DQ VL, opmask/ZMM state enabled by the OS
  CacheSizes cache;
};

const CpuInfo& cpu_info();

// Parses a sysfs cache size ("32K", "1024K", "32M"); 0 when it is not one.
int64_t parse_cache_size(const std::string& text);

}  // namespace dlx
