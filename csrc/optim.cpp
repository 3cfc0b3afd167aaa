// SGD, ASGD, Rprop, Adagrad, RMSprop and Adadelta fused steps (see optim.h for the formulas).
#include "optim.h"

#include <cmath>

#include "common.h"
#include "optim_detail.h"

namespace dlx {

using optim_detail::for_each_index;
using optim_detail::Lerp;
using optim_detail::with_flag;

template <typename T>
void sgd_step_(T* param, const T* grad, T* momentum_buffer, int64_t n, const SgdParams& s) {
  const T lr = static_cast<T>(s.lr), wd = static_cast<T>(s.weight_decay);
  const T mom = static_cast<T>(s.momentum), keep = static_cast<T>(1.0 - s.dampening);
  with_flag(s.weight_decay != 0.0, [&](auto decay) {
    if (s.momentum == 0.0) {
      for_each_index(n, [=](int64_t i) {
        T g = grad[i];
        if constexpr (decltype(decay)::value) g = g + wd * param[i];
        param[i] = param[i] - lr * g;
      });
      return;
    }
    with_flag(s.nesterov, [&](auto nesterov) {
      with_flag(s.first_step, [&](auto first) {
        for_each_index(n, [=](int64_t i) {
          T g = grad[i];
          if constexpr (decltype(decay)::value) g = g + wd * param[i];
          T buf;
          if constexpr (decltype(first)::value) {
            buf = g;
          } else {
            buf = momentum_buffer[i] * mom + keep * g;
          }
          momentum_buffer[i] = buf;
          if constexpr (decltype(nesterov)::value) {
            g = g + mom * buf;
          } else {
            g = buf;
          }
          param[i] = param[i] - lr * g;
        });
      });
    });
  });
}

template <typename T>
void asgd_step_(T* param, const T* grad, T* ax, int64_t n, const AsgdParams& s) {
  const T wd = static_cast<T>(s.weight_decay), neg_eta = static_cast<T>(-s.eta);
  const T decay = static_cast<T>(1.0 - s.lambd * s.eta), mu = static_cast<T>(s.mu);
  with_flag(s.weight_decay != 0.0, [&](auto wdecay) {
    // mu == 1 until step t0: the average is the parameter itself (PyTorch copies).
    with_flag(static_cast<T>(s.mu) != T(1), [&](auto average) {
      for_each_index(n, [=](int64_t i) {
        T p = param[i], g = grad[i];
        if constexpr (decltype(wdecay)::value) g = g + wd * p;
        p = p * decay;
        p = p + neg_eta * g;
        param[i] = p;
        if constexpr (decltype(average)::value) {
          ax[i] = ax[i] + (p - ax[i]) * mu;
        } else {
          ax[i] = p;
        }
      });
    });
  });
}

template <typename T>
void rprop_step_(T* param, const T* grad, T* prev, T* step_size, int64_t n,
                 const RpropParams& s) {
  const T etaminus = static_cast<T>(s.etaminus), etaplus = static_cast<T>(s.etaplus);
  const T lo = static_cast<T>(s.step_size_min), hi = static_cast<T>(s.step_size_max);
  // Selects instead of branches: the signs are data, a branch on them mispredicts half the
  // time, and this form vectorises.
  for_each_index(n, [=](int64_t i) {
    const T g = grad[i], prod = g * prev[i];
    const bool flipped = prod < T(0);
    // torch: sign(prod) (0 for NaN) mapped to etaplus / etaminus / 1.
    T factor = prod > T(0) ? etaplus : T(1);
    factor = flipped ? etaminus : factor;
    T ss = step_size[i] * factor;
    ss = ss < lo ? lo : ss;  // clamp(lo, hi), NaN kept
    ss = hi < ss ? hi : ss;
    step_size[i] = ss;
    const T kept = flipped ? T(0) : g;  // a flip: no step, and no flip test next time
    const T sgn = static_cast<T>(kept > T(0)) - static_cast<T>(kept < T(0));  // sign(NaN) = 0
    param[i] = param[i] - sgn * ss;
    prev[i] = kept;
  });
}

template <typename T>
void adagrad_step_(T* param, const T* grad, T* state_sum, int64_t n, const AdagradParams& s) {
  const T neg_clr = static_cast<T>(-s.clr), wd = static_cast<T>(s.weight_decay);
  const T eps = static_cast<T>(s.eps);
  with_flag(s.weight_decay != 0.0, [&](auto decay) {
    for_each_index(n, [=](int64_t i) {
      T g = grad[i];
      if constexpr (decltype(decay)::value) g = g + wd * param[i];
      const T sum = state_sum[i] + g * g;
      state_sum[i] = sum;
      param[i] = param[i] + neg_clr * g / (std::sqrt(sum) + eps);
    });
  });
}

template <typename T>
void rmsprop_step_(T* param, const T* grad, T* square_avg, T* momentum_buffer, T* grad_avg,
                   int64_t n, const RmspropParams& s) {
  const T lr = static_cast<T>(s.lr), wd = static_cast<T>(s.weight_decay);
  const T alpha = static_cast<T>(s.alpha), one_minus_alpha = static_cast<T>(1.0 - s.alpha);
  const T eps = static_cast<T>(s.eps), mom = static_cast<T>(s.momentum);
  const Lerp<T> lerp(1.0 - s.alpha);
  with_flag(s.weight_decay != 0.0, [&](auto decay) {
    with_flag(grad_avg != nullptr, [&](auto centered) {
      with_flag(momentum_buffer != nullptr, [&](auto use_momentum) {
        for_each_index(n, [=](int64_t i) {
          T g = grad[i];
          if constexpr (decltype(decay)::value) g = g + wd * param[i];
          const T sq = square_avg[i] * alpha + one_minus_alpha * g * g;
          square_avg[i] = sq;
          T avg;
          if constexpr (decltype(centered)::value) {
            const T ga = lerp(grad_avg[i], g);
            grad_avg[i] = ga;
            avg = std::sqrt(sq - ga * ga) + eps;
          } else {
            avg = std::sqrt(sq) + eps;
          }
          if constexpr (decltype(use_momentum)::value) {
            const T buf = momentum_buffer[i] * mom + g / avg;
            momentum_buffer[i] = buf;
            param[i] = param[i] - lr * buf;
          } else {
            param[i] = param[i] - lr * g / avg;
          }
        });
      });
    });
  });
}

template <typename T>
void adadelta_step_(T* param, const T* grad, T* square_avg, T* acc_delta, int64_t n,
                    const AdadeltaParams& s) {
  const T lr = static_cast<T>(s.lr), wd = static_cast<T>(s.weight_decay);
  const T rho = static_cast<T>(s.rho), one_minus_rho = static_cast<T>(1.0 - s.rho);
  const T eps = static_cast<T>(s.eps);
  with_flag(s.weight_decay != 0.0, [&](auto decay) {
    for_each_index(n, [=](int64_t i) {
      T g = grad[i];
      if constexpr (decltype(decay)::value) g = g + wd * param[i];
      const T sq = square_avg[i] * rho + one_minus_rho * g * g;
      square_avg[i] = sq;
      const T delta = std::sqrt(acc_delta[i] + eps) / std::sqrt(sq + eps) * g;
      acc_delta[i] = acc_delta[i] * rho + one_minus_rho * delta * delta;
      param[i] = param[i] - lr * delta;
    });
  });
}

#define DLX_OPTIM_SGD_FAMILY(T)                                                            \
  template void sgd_step_<T>(T*, const T*, T*, int64_t, const SgdParams&);                 \
  template void asgd_step_<T>(T*, const T*, T*, int64_t, const AsgdParams&);               \
  template void rprop_step_<T>(T*, const T*, T*, T*, int64_t, const RpropParams&);         \
  template void adagrad_step_<T>(T*, const T*, T*, int64_t, const AdagradParams&);         \
  template void rmsprop_step_<T>(T*, const T*, T*, T*, T*, int64_t, const RmspropParams&); \
  template void adadelta_step_<T>(T*, const T*, T*, T*, int64_t, const AdadeltaParams&);
DLX_INSTANTIATE(DLX_OPTIM_SGD_FAMILY)

}  // namespace dlx
