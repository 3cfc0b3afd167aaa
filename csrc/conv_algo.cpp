// The convolution algorithm choice (conv_algo.h).
#include "conv_algo.h"

#include <array>
#include <cstdlib>
#include <limits>
#include <map>
#include <mutex>
#include <stdexcept>

#include "common.h"
#include "conv_depthwise.h"
#include "conv_implicit.h"
#include "dispatch.h"
#include "sgemm.h"
#include "threads.h"

namespace dlx {

namespace {

constexpr const char* kNames[] = {"auto", "implicit", "im2col", "depthwise"};

std::mutex& algo_mutex() {
  static std::mutex m;
  return m;
}
// Guarded by algo_mutex: the forced algorithm (read from the environment once it is known
// to be valid) and the cache of choices.
bool g_forced_known = false;
ConvAlgo g_forced = ConvAlgo::automatic;
using Key = std::array<int64_t, 17>;
std::map<Key, ConvAlgo>& cache() {
  static std::map<Key, ConvAlgo> c;
  return c;
}

ConvAlgo forced_locked() {
  if (!g_forced_known) {
    const char* env = std::getenv("DLX_CONV_ALGO");
    ConvAlgo a = ConvAlgo::automatic;
    if (env != nullptr && *env != '\0' && !conv_algo_from_name(env, a))
      throw std::invalid_argument(str("conv2d: `DLX_CONV_ALGO` must be one of auto, implicit, "
                                      "im2col, depthwise, got '",
                                      env, "'"));
    g_forced = a;
    g_forced_known = true;
  }
  return g_forced;
}

// The cost rule (conv_algo.h). Measured on an AMD EPYC at the AVX2 level: the implicit
// GEMM's gathered panels (stride-1 geometry whose output plane differs from the input plane)
// were up to 2x slower than im2col's copies (16->16 5x5 valid), while the strided input
// gradient in phases beat col2im 2x (32->64 3x3 stride 2) once there are >= 8 channels.
ConvAlgo automatic_choice(const Conv2dShape& s, bool float32) {
  if (s.groups > 1 && conv_depthwise_supported(s)) return ConvAlgo::depthwise;
  if (float32 && conv_implicit_supported(s)) {
    const Window2d& k = s.win;
    const bool strided = k.stride_h > 1 || k.stride_w > 1;
    const bool same = !strided && k.h_out(s.h) == s.h && k.w_out(s.w) == s.w;
    if (same || (strided && s.c >= 8)) return ConvAlgo::implicit;
  }
  return ConvAlgo::im2col;
}

}  // namespace

const char* conv_algo_name(ConvAlgo a) { return kNames[static_cast<int>(a)]; }

bool conv_algo_from_name(const std::string& name, ConvAlgo& a) {
  for (int i = 0; i < 4; ++i)
    if (name == kNames[i]) {
      a = static_cast<ConvAlgo>(i);
      return true;
    }
  return false;
}

ConvAlgo conv_algo_forced() {
  std::lock_guard<std::mutex> lock(algo_mutex());
  return forced_locked();
}

void conv_algo_force(ConvAlgo a) {
  std::lock_guard<std::mutex> lock(algo_mutex());
  g_forced = a;
  g_forced_known = true;
  cache().clear();
}

bool conv_implicit_supported(const Conv2dShape& s) {
  if (s.groups != 1 || s.win.is_identity() || !own_sgemm_enabled() ||
      !conv_implicit_available())
    return false;
  // The gathers index an image (and an output-gradient image) with int32 offsets.
  constexpr int64_t kMaxIndex = std::numeric_limits<int32_t>::max() / 2;
  const int64_t h_out = s.win.h_out(s.h), w_out = s.win.w_out(s.w);
  return s.c * s.h * s.w < kMaxIndex && s.o * h_out * w_out < kMaxIndex &&
         s.h + s.win.dil_h * s.win.kh < kMaxIndex && s.w + s.win.dil_w * s.win.kw < kMaxIndex;
}

ConvAlgo conv_algo_choose(const Conv2dShape& s, bool float32) {
  std::lock_guard<std::mutex> lock(algo_mutex());
  const ConvAlgo forced = forced_locked();
  const Window2d& k = s.win;
  const Key key = {s.n,        s.c,        s.h,      s.w,      s.o,      s.groups,
                   k.kh,       k.kw,       k.stride_h, k.stride_w, k.pad_h, k.pad_w,
                   k.dil_h,    k.dil_w,    float32,  static_cast<int64_t>(isa_active()),
                   num_threads()};
  auto& c = cache();
  if (auto it = c.find(key); it != c.end()) return it->second;
  ConvAlgo a = forced;
  if (a == ConvAlgo::implicit && !(float32 && conv_implicit_supported(s))) a = ConvAlgo::automatic;
  if (a == ConvAlgo::depthwise && !conv_depthwise_supported(s)) a = ConvAlgo::automatic;
  if (a == ConvAlgo::automatic) a = automatic_choice(s, float32);
  if (c.size() > 4096) c.clear();  // a bound for processes that see endless shapes
  c.emplace(key, a);
  return a;
}

}  // namespace dlx
