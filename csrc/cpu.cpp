// CPU identification for dispatch and blocking (see cpu.h). Generic code: built without
// any ISA flag, so it runs (and answers "no") on every CPU.
#include "cpu.h"

#include <cctype>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>

#if defined(__x86_64__) || defined(_M_X64)
#include <cpuid.h>
#define DLX_X86_64 1
#else
#define DLX_X86_64 0
#endif

namespace dlx {
namespace {

std::string trim(const std::string& s) {
  size_t a = 0, b = s.size();
  while (a < b && std::isspace(static_cast<unsigned char>(s[a]))) ++a;
  while (b > a && (std::isspace(static_cast<unsigned char>(s[b - 1])) || s[b - 1] == '\0')) --b;
  return s.substr(a, b - a);
}

std::string read_line(const std::string& path) {
  std::ifstream f(path);
  std::string line;
  if (f) std::getline(f, line);
  return trim(line);
}

// "model name" (x86), else "Model"/"Hardware" from /proc/cpuinfo; "" when absent.
std::string proc_model_name() {
  std::ifstream f("/proc/cpuinfo");
  std::string line;
  std::string fallback;
  while (std::getline(f, line)) {
    const size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    const std::string key = trim(line.substr(0, colon));
    if (key == "model name") return trim(line.substr(colon + 1));
    if (fallback.empty() && (key == "Model" || key == "Hardware"))
      fallback = trim(line.substr(colon + 1));
  }
  return fallback;
}

// Caches of cpu0 as the kernel lists them.
CacheSizes sysfs_caches() {
  CacheSizes c;
  for (int i = 0; i < 16; ++i) {
    const std::string dir = "/sys/devices/system/cpu/cpu0/cache/index" + std::to_string(i) + "/";
    const std::string level = read_line(dir + "level");
    if (level.empty()) break;
    const std::string type = read_line(dir + "type");
    const int64_t size = parse_cache_size(read_line(dir + "size"));
    if (type == "Instruction" || size == 0) continue;
    if (level == "1") c.l1d = size;
    if (level == "2") c.l2 = size;
    if (level == "3") c.l3 = size;
  }
  if (c.l1d > 0 || c.l2 > 0) c.source = "sysfs";
  return c;
}

#if DLX_X86_64
struct Regs {
  unsigned a = 0, b = 0, c = 0, d = 0;
};
Regs cpuid(unsigned leaf, unsigned sub = 0) {
  Regs r;
  __cpuid_count(leaf, sub, r.a, r.b, r.c, r.d);
  return r;
}
bool bit(unsigned v, int i) { return ((v >> i) & 1u) != 0; }

// XCR0: which register state the OS saves on a context switch (needs OSXSAVE).
uint64_t xcr0() {
  unsigned lo = 0, hi = 0;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return (static_cast<uint64_t>(hi) << 32) | lo;
}

// Deterministic cache parameters (Intel leaf 4, AMD 0x8000001D): one subleaf per cache.
bool cpuid_caches(unsigned leaf, CacheSizes& c) {
  bool any = false;
  for (unsigned sub = 0; sub < 16; ++sub) {
    const Regs r = cpuid(leaf, sub);
    const unsigned type = r.a & 0x1f;  // 1 data, 2 instruction, 3 unified
    if (type == 0) break;
    if (type == 2) continue;
    const unsigned level = (r.a >> 5) & 0x7;
    const int64_t ways = ((r.b >> 22) & 0x3ff) + 1, parts = ((r.b >> 12) & 0x3ff) + 1;
    const int64_t line = (r.b & 0xfff) + 1, sets = static_cast<int64_t>(r.c) + 1;
    const int64_t size = ways * parts * line * sets;
    if (level == 1) c.l1d = size;
    if (level == 2) c.l2 = size;
    if (level == 3) {
      c.l3 = size;
      c.l3_sharing = ((r.a >> 14) & 0xfff) + 1;
    }
    any = true;
  }
  if (any) c.source = "cpuid";
  return any;
}

void detect_x86(CpuInfo& info) {
  const Regs v = cpuid(0);
  char vendor[13] = {};
  std::memcpy(vendor, &v.b, 4);
  std::memcpy(vendor + 4, &v.d, 4);
  std::memcpy(vendor + 8, &v.c, 4);
  info.vendor = vendor;
  const unsigned max_leaf = v.a;
  const unsigned max_ext = cpuid(0x80000000u).a;
  if (max_ext >= 0x80000004u) {
    char brand[49] = {};
    for (unsigned i = 0; i < 3; ++i) {
      const Regs r = cpuid(0x80000002u + i);
      std::memcpy(brand + 16 * i, &r, 16);
    }
    info.model = trim(brand);
  }
  const Regs l1 = max_leaf >= 1 ? cpuid(1) : Regs{};
  const Regs l7 = max_leaf >= 7 ? cpuid(7, 0) : Regs{};
  const Regs e1 = max_ext >= 0x80000001u ? cpuid(0x80000001u) : Regs{};
  const bool osxsave = bit(l1.c, 27);
  const uint64_t xcr = osxsave ? xcr0() : 0;
  const bool ymm_state = (xcr & 0x6) == 0x6;                 // SSE and AVX state
  const bool zmm_state = ymm_state && (xcr & 0xe0) == 0xe0;  // opmask, ZMM_Hi256, Hi16_ZMM
  info.x86_64_v3 = ymm_state && bit(l1.c, 12) /* FMA */ && bit(l1.c, 22) /* MOVBE */ &&
                   bit(l1.c, 28) /* AVX */ && bit(l1.c, 29) /* F16C */ && bit(l7.b, 3) /* BMI1 */ &&
                   bit(l7.b, 5) /* AVX2 */ && bit(l7.b, 8) /* BMI2 */ && bit(e1.c, 5) /* LZCNT */;
  info.x86_64_v4 = info.x86_64_v3 && zmm_state && bit(l7.b, 16) /* F */ && bit(l7.b, 17) /* DQ */ &&
                   bit(l7.b, 28) /* CD */ && bit(l7.b, 30) /* BW */ && bit(l7.b, 31) /* VL */;
  const bool amd_topology = max_ext >= 0x8000001du && bit(e1.c, 22);
  if (info.vendor == "AuthenticAMD" || info.vendor == "HygonGenuine") {
    if (amd_topology) cpuid_caches(0x8000001du, info.cache);
  } else if (max_leaf >= 4) {
    cpuid_caches(4, info.cache);
  }
}
#endif

CpuInfo detect() {
  CpuInfo info;
#if DLX_X86_64
  info.arch = "x86_64";
  detect_x86(info);
#elif defined(__aarch64__)
  info.arch = "aarch64";
#elif defined(__powerpc64__)
  info.arch = "ppc64";
#else
  info.arch = "unknown";
#endif
  if (info.cache.l1d == 0 && info.cache.l2 == 0) info.cache = sysfs_caches();
  if (info.cache.l1d == 0 && info.cache.l2 == 0) {  // nothing readable: a common desktop core
    info.cache = CacheSizes{};
    info.cache.l1d = 32 << 10;
    info.cache.l2 = 1 << 20;
    info.cache.l3 = 8 << 20;
  }
  if (info.model.empty()) info.model = proc_model_name();
  if (info.model.empty()) info.model = "unknown " + info.arch + " CPU";
  return info;
}

}  // namespace

int64_t parse_cache_size(const std::string& text) {
  const std::string s = trim(text);
  if (s.empty() || !std::isdigit(static_cast<unsigned char>(s[0]))) return 0;
  char* end = nullptr;
  const long long v = std::strtoll(s.c_str(), &end, 10);
  const std::string unit = trim(end);
  if (unit.empty()) return v;
  if (unit == "K" || unit == "KiB") return static_cast<int64_t>(v) << 10;
  if (unit == "M" || unit == "MiB") return static_cast<int64_t>(v) << 20;
  return 0;
}

const CpuInfo& cpu_info() {
  static const CpuInfo info = detect();
  return info;
}

}  // namespace dlx
