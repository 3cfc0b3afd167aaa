// Fused softmax cross-entropy from logits (formulas in loss.h). Forward runs log-softmax and
// the loss of a row together while the row is in cache; backward rebuilds the softmax from
// log_probs with one exp per element. Rows are split across threads (reduce.h).
#include <algorithm>
#include <cmath>

#include "common.h"
#include "loss.h"
#include "reduce.h"
#include "softmax.h"
#include "vmath.h"

namespace dlx {
namespace {

// Denominator of the mean for class-index targets: the summed weight of the kept rows.
template <typename T>
double kept_weight(const int64_t* target, const T* weight, int64_t n, int64_t ignore_index) {
  double s = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    if (target[i] == ignore_index) continue;
    s += weight == nullptr ? 1.0 : static_cast<double>(weight[target[i]]);
  }
  return s;
}

// The scalar grad_loss[0] spread over the reduction (unused for none).
template <typename T>
double grad_scalar(const T* grad_loss, Reduction red, double denominator) {
  if (red == Reduction::none) return 0.0;
  const double g = static_cast<double>(grad_loss[0]);
  return red == Reduction::mean ? g / denominator : g;
}

template <typename T>
void store_total(T* loss, Reduction red, double sum, double denominator) {
  if (red == Reduction::sum) loss[0] = static_cast<T>(sum);
  if (red == Reduction::mean) loss[0] = static_cast<T>(sum / denominator);
}

}  // namespace

template <typename T>
void cross_entropy_forward(const T* logits, const int64_t* target, const T* weight, T* lp, T* loss,
                           int64_t n, int64_t c, int64_t ignore_index, double eps, Reduction red) {
  const double s = parallel_sum(n, n * c, [&](int64_t b, int64_t e) {
    double acc = 0.0;
    for (int64_t i = b; i < e; ++i) {
      const T* lr = lp + i * c;
      log_softmax_row(logits + i * c, lp + i * c, c);
      const int64_t y = target[i];
      double li = 0.0;
      if (y != ignore_index) {
        const double wy = weight == nullptr ? 1.0 : static_cast<double>(weight[y]);
        li = -(1.0 - eps) * wy * static_cast<double>(lr[y]);
        if (eps > 0.0) {
          const double sm = weight == nullptr ? lane_sum(lr, c) : lane_sum_of(c, [&](int64_t j) {
            return static_cast<double>(weight[j]) * static_cast<double>(lr[j]);
          });
          li -= eps / static_cast<double>(c) * sm;
        }
      }
      if (red == Reduction::none) loss[i] = static_cast<T>(li);
      acc += li;
    }
    return acc;
  });
  if (red != Reduction::none) {
    const double den = red == Reduction::mean ? kept_weight(target, weight, n, ignore_index) : 1.0;
    store_total(loss, red, s, den);
  }
}

template <typename T>
void cross_entropy_backward(const T* grad_loss, const T* lp, const int64_t* target, const T* weight,
                            T* gx, int64_t n, int64_t c, int64_t ignore_index, double eps,
                            Reduction red) {
  const double den = red == Reduction::mean ? kept_weight(target, weight, n, ignore_index) : 1.0;
  const double scalar = grad_scalar(grad_loss, red, den);
  double weight_total = static_cast<double>(c);
  if (weight != nullptr) {
    weight_total = 0.0;
    for (int64_t j = 0; j < c; ++j) weight_total += static_cast<double>(weight[j]);
  }
  const double eps_c = eps / static_cast<double>(c);
  parallel_sum(n, n * c, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      const T* lr = lp + i * c;
      T* gr = gx + i * c;
      const int64_t y = target[i];
      if (y == ignore_index) {
        std::fill_n(gr, c, T(0));
        continue;
      }
      const double g = red == Reduction::none ? static_cast<double>(grad_loss[i]) : scalar;
      const double wy = weight == nullptr ? 1.0 : static_cast<double>(weight[y]);
      // grad_j = a p_j - k W_j - [j == y] (1 - eps) W_y g
      const T a = static_cast<T>(g * ((1.0 - eps) * wy + eps_c * weight_total));
      const T k = static_cast<T>(g * eps_c);
      if (weight == nullptr) {
        for (int64_t j = 0; j < c; ++j) gr[j] = a * vexp(lr[j]) - k;
      } else {
        for (int64_t j = 0; j < c; ++j) gr[j] = a * vexp(lr[j]) - k * weight[j];
      }
      gr[y] -= static_cast<T>(g * (1.0 - eps) * wy);
    }
    return 0.0;
  });
}

template <typename T>
void cross_entropy_prob_forward(const T* logits, const T* target, const T* weight, T* lp, T* loss,
                                int64_t n, int64_t c, double eps, Reduction red) {
  const double keep = 1.0 - eps, eps_c = eps / static_cast<double>(c);
  const double s = parallel_sum(n, n * c, [&](int64_t b, int64_t e) {
    double acc = 0.0;
    for (int64_t i = b; i < e; ++i) {
      const T* lr = lp + i * c;
      const T* tr = target + i * c;
      log_softmax_row(logits + i * c, lp + i * c, c);
      const double sm = lane_sum_of(c, [&](int64_t j) {
        const double w = weight == nullptr ? 1.0 : static_cast<double>(weight[j]);
        return w * (keep * static_cast<double>(tr[j]) + eps_c) * static_cast<double>(lr[j]);
      });
      if (red == Reduction::none) loss[i] = static_cast<T>(-sm);
      acc -= sm;
    }
    return acc;
  });
  store_total(loss, red, s, static_cast<double>(n));
}

template <typename T>
void cross_entropy_prob_backward(const T* grad_loss, const T* lp, const T* target, const T* weight,
                                 T* gx, int64_t n, int64_t c, double eps, Reduction red) {
  const double scalar = grad_scalar(grad_loss, red, static_cast<double>(n));
  const double keep = 1.0 - eps, eps_c = eps / static_cast<double>(c);
  const T keep_t = static_cast<T>(keep), eps_c_t = static_cast<T>(eps_c);
  parallel_sum(n, n * c, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      const T* lr = lp + i * c;
      const T* tr = target + i * c;
      T* gr = gx + i * c;
      const double g = red == Reduction::none ? static_cast<double>(grad_loss[i]) : scalar;
      const double total = lane_sum_of(c, [&](int64_t j) {  // sum_k W_k t'_k
        const double w = weight == nullptr ? 1.0 : static_cast<double>(weight[j]);
        return w * (keep * static_cast<double>(tr[j]) + eps_c);
      });
      const T a = static_cast<T>(g * total), gt = static_cast<T>(g);
      for (int64_t j = 0; j < c; ++j) {
        const T w = weight == nullptr ? T(1) : weight[j];
        gr[j] = a * vexp(lr[j]) - gt * w * (keep_t * tr[j] + eps_c_t);
      }
    }
    return 0.0;
  });
}

#define DLX_CROSS_ENTROPY(T)                                                                  \
  template void cross_entropy_forward<T>(const T*, const int64_t*, const T*, T*, T*, int64_t, \
                                         int64_t, int64_t, double, Reduction);                \
  template void cross_entropy_backward<T>(const T*, const T*, const int64_t*, const T*, T*,   \
                                          int64_t, int64_t, int64_t, double, Reduction);      \
  template void cross_entropy_prob_forward<T>(const T*, const T*, const T*, T*, T*, int64_t,  \
                                              int64_t, double, Reduction);                    \
  template void cross_entropy_prob_backward<T>(const T*, const T*, const T*, const T*, T*,    \
                                               int64_t, int64_t, double, Reduction);
DLX_INSTANTIATE(DLX_CROSS_ENTROPY)

}  // namespace dlx
