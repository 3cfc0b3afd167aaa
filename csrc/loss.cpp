// Pointwise regression losses and binary cross-entropy with logits. Each is one pass: the
// per-element value is computed in T and either stored (reduction none) or added to a
// per-thread double sum (reduce.h); backward is one pass scaling the derivative.
#include "loss.h"

#include <algorithm>
#include <cmath>

#include "common.h"
#include "reduce.h"
#include "vmath.h"

namespace dlx {
namespace {

// For every element i in parallel: stores value(i) (none) or returns the double sum of it.
template <typename T, typename F>
double reduce_or_store(int64_t n, Reduction red, T* out, F value) {
  const bool store = red == Reduction::none;
  return parallel_sum(n, n, [&](int64_t b, int64_t e) {
    if (store) {
      for (int64_t i = b; i < e; ++i) out[i] = value(i);
      return 0.0;
    }
    return lane_sum_of(e - b, [&](int64_t k) { return static_cast<double>(value(b + k)); });
  });
}

template <typename T>
void finish(T* loss, Reduction red, double sum, int64_t n) {
  if (red == Reduction::sum) loss[0] = static_cast<T>(sum);
  if (red == Reduction::mean) loss[0] = static_cast<T>(sum / static_cast<double>(n));
}

// The factor grad_loss contributes to element i: per element for none, else one scalar.
template <typename T>
struct GradScale {
  const T* grad_loss;
  Reduction red;
  T scalar;
  GradScale(const T* g, Reduction r, int64_t n)
      : grad_loss(g),
        red(r),
        scalar(r == Reduction::none ? T(0)
               : r == Reduction::mean
                   ? static_cast<T>(static_cast<double>(g[0]) / static_cast<double>(n))
                   : g[0]) {}
};

template <typename T, typename F>
void scale_grad(const GradScale<T>& g, int64_t n, T* gx, F deriv) {
  reduce_or_store(n, Reduction::none, gx, [&](int64_t i) {
    return (g.red == Reduction::none ? g.grad_loss[i] : g.scalar) * deriv(i);
  });
}

// Calls f(i, p) for every element with its pos_weight p (the column's, the shared one, or 1)
// and returns the double sum of the results. f may also store per-element outputs.
template <typename T, typename F>
double with_pos_weight(int64_t n, int64_t cols, const T* pw, F f) {
  return parallel_sum(n, n, [&](int64_t b, int64_t e) {
    if (pw == nullptr || cols == 1) {
      const T p = pw == nullptr ? T(1) : pw[0];
      return lane_sum_of(e - b, [&](int64_t k) { return static_cast<double>(f(b + k, p)); });
    }
    double acc = 0.0;
    for (int64_t i = b; i < e;) {  // row segments of the range: column j0 .. j0 + len - 1
      const int64_t j0 = i % cols, len = std::min(cols - j0, e - i);
      acc += lane_sum_of(len, [&](int64_t k) { return static_cast<double>(f(i + k, pw[j0 + k])); });
      i += len;
    }
    return acc;
  });
}

}  // namespace

template <typename T>
void pointwise_loss_forward(PointwiseLoss kind, const T* x, const T* t, T* loss, int64_t n,
                            double delta, Reduction red) {
  double s = 0.0;
  switch (kind) {
    case PointwiseLoss::mse:
      s = reduce_or_store(n, red, loss, [&](int64_t i) {
        const T d = x[i] - t[i];
        return d * d;
      });
      break;
    case PointwiseLoss::l1:
      s = reduce_or_store(n, red, loss, [&](int64_t i) { return std::fabs(x[i] - t[i]); });
      break;
    case PointwiseLoss::huber: {
      const T dl = static_cast<T>(delta), half(0.5);
      s = reduce_or_store(n, red, loss, [&](int64_t i) {
        const T a = std::fabs(x[i] - t[i]);
        return a < dl ? half * a * a : dl * (a - half * dl);
      });
      break;
    }
  }
  finish(loss, red, s, n);
}

template <typename T>
void pointwise_loss_backward(PointwiseLoss kind, const T* grad_loss, const T* x, const T* t, T* gx,
                             int64_t n, double delta, Reduction red) {
  const GradScale<T> g(grad_loss, red, n);
  switch (kind) {
    case PointwiseLoss::mse:
      return scale_grad(g, n, gx, [&](int64_t i) { return T(2) * (x[i] - t[i]); });
    case PointwiseLoss::l1:
      return scale_grad(g, n, gx, [&](int64_t i) {
        const T d = x[i] - t[i];
        return d > T(0) ? T(1) : (d < T(0) ? T(-1) : T(0));
      });
    case PointwiseLoss::huber: {
      const T dl = static_cast<T>(delta);
      return scale_grad(g, n, gx, [&](int64_t i) {
        const T d = x[i] - t[i];
        return d <= -dl ? -dl : (d >= dl ? dl : d);
      });
    }
  }
}

template <typename T>
void bce_with_logits_forward(const T* x, const T* t, const T* pw, T* loss, int64_t n, int64_t cols,
                             Reduction red) {
  const bool store = red == Reduction::none;
  const double s = with_pos_weight(n, cols, pw, [&](int64_t i, T p) {
    const T v = x[i], tv = t[i];
    const T log_weight = T(1) + (p - T(1)) * tv;
    // log(1 + exp(-x)) = log1p(exp(-|x|)) + max(-x, 0): exp never overflows.
    const T l =
        (T(1) - tv) * v + log_weight * (std::log1p(vexp(-std::fabs(v))) + (v < T(0) ? -v : T(0)));
    if (store) loss[i] = l;
    return l;
  });
  finish(loss, red, s, n);
}

template <typename T>
void bce_with_logits_backward(const T* grad_loss, const T* x, const T* t, const T* pw, T* gx,
                              int64_t n, int64_t cols, Reduction red) {
  const GradScale<T> g(grad_loss, red, n);
  with_pos_weight(n, cols, pw, [&](int64_t i, T p) {
    const T tv = t[i];
    const T d = (T(1) - tv) - (T(1) + (p - T(1)) * tv) * vsigmoid(-x[i]);
    gx[i] = (red == Reduction::none ? grad_loss[i] : g.scalar) * d;
    return T(0);
  });
}

#define DLX_LOSS(T)                                                                               \
  template void pointwise_loss_forward<T>(PointwiseLoss, const T*, const T*, T*, int64_t, double, \
                                          Reduction);                                             \
  template void pointwise_loss_backward<T>(PointwiseLoss, const T*, const T*, const T*, T*,       \
                                           int64_t, double, Reduction);                           \
  template void bce_with_logits_forward<T>(const T*, const T*, const T*, T*, int64_t, int64_t,    \
                                           Reduction);                                            \
  template void bce_with_logits_backward<T>(const T*, const T*, const T*, const T*, T*, int64_t,  \
                                            int64_t, Reduction);
DLX_INSTANTIATE(DLX_LOSS)

}  // namespace dlx
