// Driver of the direct depthwise convolution (conv_depthwise.h): planes over OpenMP threads,
// the active level's plane kernels (conv_depthwise_levels.cpp) inside.
#include "conv_depthwise.h"

#include <omp.h>

#include <algorithm>
#include <vector>

#include "common.h"
#include "threads.h"

namespace dlx {

KernelFamily<DepthwiseKernels> conv_depthwise_kernels{"conv_depthwise"};

namespace {

// Below this many multiply-adds a call stays on the calling thread.
constexpr double kParallelWork = 131072.0;

DepthwisePlane plane_of(const Conv2dShape& s) {
  return {s.h, s.w, s.win.h_out(s.h), s.win.w_out(s.w), s.win};
}

}  // namespace

template <typename T>
void conv2d_depthwise_forward(const T* x, const T* weight, const T* bias, T* y,
                              const Conv2dShape& s) {
  const DepthwisePlane p = plane_of(s);
  const DepthwiseFns<T>& k = conv_depthwise_kernels.get()->template of<T>();
  const int64_t m = s.o / s.groups, taps = s.win.kh * s.win.kw, hw = s.h * s.w;
  const int64_t l = p.h_out * p.w_out, planes = s.n * s.o;
  const double work = static_cast<double>(planes) * l * taps;
  const int nt = num_threads();
#pragma omp parallel for num_threads(nt) schedule(dynamic, 4) if (nt > 1 && work > kParallelWork)
  for (int64_t q = 0; q < planes; ++q) {
    const int64_t b = q / s.o, oc = q % s.o;
    k.forward(x + (b * s.c + oc / m) * hw, weight + oc * taps, bias != nullptr ? bias[oc] : T(0),
              y + q * l, p);
  }
}

template <typename T>
void conv2d_depthwise_backward(const T* gy, const T* x, const T* weight, T* gx, T* gw, T* gb,
                               const Conv2dShape& s) {
  const DepthwisePlane p = plane_of(s);
  const DepthwiseFns<T>& k = conv_depthwise_kernels.get()->template of<T>();
  const int64_t m = s.o / s.groups, taps = s.win.kh * s.win.kw, hw = s.h * s.w;
  const int64_t l = p.h_out * p.w_out;
  const double work = static_cast<double>(s.n) * s.o * l * taps;
  const int nt = num_threads();
  const bool par = nt > 1 && work > kParallelWork;
  if (gx != nullptr) {
    const int64_t planes = s.n * s.c;
#pragma omp parallel for num_threads(nt) schedule(dynamic, 4) if (par)
    for (int64_t q = 0; q < planes; ++q) {
      const int64_t b = q / s.c, ci = q % s.c;
      T* gxp = gx + q * hw;
      std::fill_n(gxp, hw, T(0));
      for (int64_t j = 0; j < m; ++j) {
        const int64_t oc = ci * m + j;
        k.input_grad(gy + (b * s.o + oc) * l, weight + oc * taps, gxp, p);
      }
    }
  }
  if (gw != nullptr || gb != nullptr) {
#pragma omp parallel for num_threads(nt) schedule(dynamic, 1) if (par)
    for (int64_t oc = 0; oc < s.o; ++oc) {
      std::vector<double> acc(static_cast<size_t>(taps), 0.0);
      double bias_sum = 0.0;
      for (int64_t b = 0; b < s.n; ++b) {
        const T* gyp = gy + (b * s.o + oc) * l;
        if (gw != nullptr) k.weight_grad(gyp, x + (b * s.c + oc / m) * hw, acc.data(), p);
        if (gb != nullptr) {
          double part = 0.0;
          for (int64_t i = 0; i < l; ++i) part += static_cast<double>(gyp[i]);
          bias_sum += part;
        }
      }
      if (gw != nullptr)
        for (int64_t t = 0; t < taps; ++t) gw[oc * taps + t] = static_cast<T>(acc[t]);
      if (gb != nullptr) gb[oc] = static_cast<T>(bias_sum);
    }
  }
}

#define DLX_CONV_DEPTHWISE(T)                                                             \
  template void conv2d_depthwise_forward<T>(const T*, const T*, const T*, T*,             \
                                            const Conv2dShape&);                          \
  template void conv2d_depthwise_backward<T>(const T*, const T*, const T*, T*, T*, T*,    \
                                             const Conv2dShape&);
DLX_INSTANTIATE(DLX_CONV_DEPTHWISE)

}  // namespace dlx
