// Elementwise activations (activation.h), compiled once per ISA level (the compiler
// vectorises the loops for the level; activation.cpp dispatches): one templated map per
// direction, the op picked once per call. The loop bodies are branch-free selects over
// vectorisable math (vmath.h); OpenMP splits large arrays into contiguous static blocks.
#include <cmath>

#include "activation_kernels.h"
#include "threads.h"
#include "vmath.h"

namespace dlx::DLX_ISA_NS {
namespace {

// Below this many elements a parallel region costs more than it saves.
constexpr int64_t kParallelMin = 1 << 15;

template <typename T, typename F>
void map1(const T* x, T* y, int64_t n, F f) {
#pragma omp parallel for num_threads(num_threads()) schedule(static) if (n > kParallelMin)
  for (int64_t i = 0; i < n; ++i) y[i] = f(x[i]);
}

template <typename T, typename F>
void map2(const T* gy, const T* s, T* gx, int64_t n, F f) {
#pragma omp parallel for num_threads(num_threads()) schedule(static) if (n > kParallelMin)
  for (int64_t i = 0; i < n; ++i) gx[i] = f(gy[i], s[i]);
}

// Constants of the tanh-form GELU.
constexpr double kGeluBeta = 0.79788456080286535588;  // sqrt(2 / pi)
constexpr double kGeluKappa = 0.044715;

template <typename T>
void activation_forward(Activation op, const T* x, T* y, int64_t n, const ActivationParams& p) {
  const T zero(0), one(1), half(0.5);
  switch (op) {
    case Activation::relu:
      // `x < 0 ? 0 : x` rather than max(): a NaN passes through, as in PyTorch.
      return map1(x, y, n, [=](T v) { return v < zero ? zero : v; });
    case Activation::leaky_relu: {
      const T slope = static_cast<T>(p.negative_slope);
      return map1(x, y, n, [=](T v) { return v > zero ? v : v * slope; });
    }
    case Activation::abs_relu:
      return map1(x, y, n, [](T v) { return std::fabs(v); });
    case Activation::elu: {
      const T alpha = static_cast<T>(p.alpha);
      return map1(x, y, n, [=](T v) { return v <= zero ? alpha * std::expm1(v) : v; });
    }
    case Activation::sigmoid:
      return map1(x, y, n, [](T v) { return vsigmoid(v); });
    case Activation::tanh:
      return map1(x, y, n, [](T v) { return vtanh(v); });
    case Activation::softplus: {
      // Above the threshold the function is linear; below it the stable form
      // log(1 + exp(z)) = max(z, 0) + log1p(exp(-|z|)), z = beta x, never overflows.
      const T beta = static_cast<T>(p.beta), threshold = static_cast<T>(p.threshold);
      return map1(x, y, n, [=](T v) {
        const T z = v * beta;
        const T soft = (std::fmax(z, zero) + std::log1p(vexp(-std::fabs(z)))) / beta;
        return z > threshold ? v : soft;
      });
    }
    case Activation::hardtanh: {
      const T lo = static_cast<T>(p.min_val), hi = static_cast<T>(p.max_val);
      return map1(x, y, n, [=](T v) { return v < lo ? lo : (v > hi ? hi : v); });
    }
    case Activation::gelu:
      return map1(x, y, n, [](T v) { return v * vnormcdf(v); });
    case Activation::gelu_tanh: {
      const T beta = static_cast<T>(kGeluBeta), kappa = static_cast<T>(kGeluKappa);
      return map1(x, y, n,
                  [=](T v) { return half * v * (one + vtanh(beta * (v + kappa * v * v * v))); });
    }
    case Activation::silu:
      return map1(x, y, n, [](T v) { return v * vsigmoid(v); });
  }
}

template <typename T>
void activation_backward(Activation op, const T* gy, const T* s, T* gx, int64_t n,
                         const ActivationParams& p) {
  const T zero(0), one(1), half(0.5);
  switch (op) {
    case Activation::relu:
      return map2(gy, s, gx, n, [=](T g, T v) { return v <= zero ? zero : g; });
    case Activation::leaky_relu: {
      const T slope = static_cast<T>(p.negative_slope);
      return map2(gy, s, gx, n, [=](T g, T v) { return v > zero ? g : g * slope; });
    }
    case Activation::abs_relu:
      // sign(x) * g with sign(0) = 0.
      return map2(gy, s, gx, n, [=](T g, T v) { return v > zero ? g : (v < zero ? -g : zero); });
    case Activation::elu: {
      const T alpha = static_cast<T>(p.alpha);
      return map2(gy, s, gx, n, [=](T g, T v) { return v <= zero ? g * alpha * vexp(v) : g; });
    }
    case Activation::sigmoid:  // s is the output y: y' = y (1 - y)
      return map2(gy, s, gx, n, [=](T g, T y) { return g * y * (one - y); });
    case Activation::tanh:  // s is the output y: y' = 1 - y^2
      return map2(gy, s, gx, n, [=](T g, T y) { return g * (one - y * y); });
    case Activation::softplus: {
      const T beta = static_cast<T>(p.beta), threshold = static_cast<T>(p.threshold);
      return map2(gy, s, gx, n, [=](T g, T v) {
        const T z = v * beta;
        return z > threshold ? g : g * vsigmoid(z);
      });
    }
    case Activation::hardtanh: {
      const T lo = static_cast<T>(p.min_val), hi = static_cast<T>(p.max_val);
      return map2(gy, s, gx, n, [=](T g, T v) { return (v <= lo || v >= hi) ? zero : g; });
    }
    case Activation::gelu: {
      // d/dx x Phi(x) = Phi(x) + x phi(x), phi the standard normal density.
      return map2(gy, s, gx, n, [](T g, T v) {
        T pdf;
        const T cdf = vnormcdf_pdf(v, pdf);
        return g * (cdf + v * pdf);
      });
    }
    case Activation::gelu_tanh: {
      const T beta = static_cast<T>(kGeluBeta), kappa = static_cast<T>(kGeluKappa);
      const T three(3);
      return map2(gy, s, gx, n, [=](T g, T v) {
        const T v2 = v * v;
        const T t = vtanh(beta * (v + kappa * v2 * v));
        const T left = half * (one + t);
        const T right = half * v * (one - t * t) * beta * (one + three * kappa * v2);
        return g * (left + right);
      });
    }
    case Activation::silu:
      // d/dx x s(x) = s (1 + x (1 - s)).
      return map2(gy, s, gx, n, [=](T g, T v) {
        const T sg = vsigmoid(v);
        return g * sg * (one + v * (one - sg));
      });
  }
}

#define DLX_ACTIVATION_FNS(T) \
  ActivationFns<T> { &activation_forward<T>, &activation_backward<T> }
const ActivationKernels kActivation = {DLX_ACTIVATION_FNS(float), DLX_ACTIVATION_FNS(double)};

}  // namespace

DLX_PROVIDE_KERNELS(activation_kernels, kActivation)

}  // namespace dlx::DLX_ISA_NS
