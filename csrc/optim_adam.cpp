// Adam / AdamW, Adamax, RAdam and NAdam fused steps (see optim.h for the formulas).
#include <cmath>

#include "common.h"
#include "optim.h"
#include "optim_detail.h"

namespace dlx {

using optim_detail::for_each_index;
using optim_detail::Lerp;
using optim_detail::with_flag;

namespace {

// Weight decay shared by the Adam family: none, L2 folded into g, or decoupled (AdamW).
enum class Decay { none, l2, decoupled };

template <typename F>
void with_decay(double weight_decay, bool decoupled, const F& f) {
  if (weight_decay == 0.0) {
    f(std::integral_constant<Decay, Decay::none>{});
  } else if (decoupled) {
    f(std::integral_constant<Decay, Decay::decoupled>{});
  } else {
    f(std::integral_constant<Decay, Decay::l2>{});
  }
}

// Applies the decay to (p, g) for one element; `shrink` = 1 - lr * weight_decay.
template <Decay D, typename T>
inline void apply_decay(T& p, T& g, T wd, T shrink) {
  if constexpr (D == Decay::l2) g = g + wd * p;
  if constexpr (D == Decay::decoupled) p = p * shrink;
}

}  // namespace

template <typename T>
void adam_step_(T* param, const T* grad, T* exp_avg, T* exp_avg_sq, T* max_exp_avg_sq, int64_t n,
                const AdamParams& s) {
  const T wd = static_cast<T>(s.weight_decay), shrink = static_cast<T>(1.0 - s.lr * s.weight_decay);
  const T beta2 = static_cast<T>(s.beta2), one_minus_beta2 = static_cast<T>(1.0 - s.beta2);
  const T neg_step_size = static_cast<T>(-(s.lr / s.bias_correction1));
  const T bc2_sqrt = static_cast<T>(std::sqrt(s.bias_correction2));
  const T eps = static_cast<T>(s.eps);
  const Lerp<T> lerp(1.0 - s.beta1);
  with_decay(s.weight_decay, s.decoupled_weight_decay, [&](auto decay) {
    with_flag(max_exp_avg_sq != nullptr, [&](auto amsgrad) {
      for_each_index(n, [=](int64_t i) {
        T p = param[i], g = grad[i];
        apply_decay<decltype(decay)::value>(p, g, wd, shrink);
        const T m = lerp(exp_avg[i], g);
        T v = exp_avg_sq[i] * beta2 + one_minus_beta2 * g * g;
        exp_avg[i] = m;
        exp_avg_sq[i] = v;
        if constexpr (decltype(amsgrad)::value) {
          const T old = max_exp_avg_sq[i];  // torch.maximum: NaN wins
          v = (old > v || old != old) ? old : v;
          max_exp_avg_sq[i] = v;
        }
        const T denom = std::sqrt(v) / bc2_sqrt + eps;
        param[i] = p + neg_step_size * m / denom;
      });
    });
  });
}

template <typename T>
void adamax_step_(T* param, const T* grad, T* exp_avg, T* exp_inf, int64_t n,
                  const AdamaxParams& s) {
  const T wd = static_cast<T>(s.weight_decay), beta2 = static_cast<T>(s.beta2);
  const T neg_clr = static_cast<T>(-(s.lr / s.bias_correction1)), eps = static_cast<T>(s.eps);
  const Lerp<T> lerp(1.0 - s.beta1);
  with_flag(s.weight_decay != 0.0, [&](auto decay) {
    for_each_index(n, [=](int64_t i) {
      const T p = param[i];
      T g = grad[i];
      if constexpr (decltype(decay)::value) g = g + wd * p;
      const T m = lerp(exp_avg[i], g);
      exp_avg[i] = m;
      const T u = exp_inf[i] * beta2, w = std::abs(g) + eps;
      const T norm = (u > w || u != u) ? u : w;  // torch.maximum: NaN wins
      exp_inf[i] = norm;
      param[i] = p + neg_clr * m / norm;
    });
  });
}

template <typename T>
void radam_step_(T* param, const T* grad, T* exp_avg, T* exp_avg_sq, int64_t n,
                 const RadamParams& s) {
  const T wd = static_cast<T>(s.weight_decay), shrink = static_cast<T>(1.0 - s.lr * s.weight_decay);
  const T beta2 = static_cast<T>(s.beta2), one_minus_beta2 = static_cast<T>(1.0 - s.beta2);
  const T bc1 = static_cast<T>(s.bias_correction1), lr = static_cast<T>(s.lr);
  const T bc2_sqrt = static_cast<T>(std::sqrt(s.bias_correction2));
  const T eps = static_cast<T>(s.eps), rect = static_cast<T>(s.rect);
  const Lerp<T> lerp(1.0 - s.beta1);
  with_decay(s.weight_decay, s.decoupled_weight_decay, [&](auto decay) {
    with_flag(s.rectify, [&](auto rectify) {
      for_each_index(n, [=](int64_t i) {
        T p = param[i], g = grad[i];
        apply_decay<decltype(decay)::value>(p, g, wd, shrink);
        const T m = lerp(exp_avg[i], g);
        const T v = exp_avg_sq[i] * beta2 + one_minus_beta2 * g * g;
        exp_avg[i] = m;
        exp_avg_sq[i] = v;
        T update = m / bc1 * lr;
        if constexpr (decltype(rectify)::value) {
          update = update * (bc2_sqrt / (std::sqrt(v) + eps)) * rect;
        }
        param[i] = p - update;
      });
    });
  });
}

template <typename T>
void nadam_step_(T* param, const T* grad, T* exp_avg, T* exp_avg_sq, int64_t n,
                 const NadamParams& s) {
  const T wd = static_cast<T>(s.weight_decay), shrink = static_cast<T>(1.0 - s.lr * s.weight_decay);
  const T beta2 = static_cast<T>(s.beta2), one_minus_beta2 = static_cast<T>(1.0 - s.beta2);
  const T bc2 = static_cast<T>(s.bias_correction2), eps = static_cast<T>(s.eps);
  const T grad_coef = static_cast<T>(s.grad_coef), exp_avg_coef = static_cast<T>(s.exp_avg_coef);
  const Lerp<T> lerp(1.0 - s.beta1);
  with_decay(s.weight_decay, s.decoupled_weight_decay, [&](auto decay) {
    for_each_index(n, [=](int64_t i) {
      T p = param[i], g = grad[i];
      apply_decay<decltype(decay)::value>(p, g, wd, shrink);
      const T m = lerp(exp_avg[i], g);
      const T v = exp_avg_sq[i] * beta2 + one_minus_beta2 * g * g;
      exp_avg[i] = m;
      exp_avg_sq[i] = v;
      const T denom = std::sqrt(v / bc2) + eps;
      p = p + grad_coef * g / denom;
      param[i] = p + exp_avg_coef * m / denom;
    });
  });
}

#define DLX_OPTIM_ADAM_FAMILY(T)                                                     \
  template void adam_step_<T>(T*, const T*, T*, T*, T*, int64_t, const AdamParams&); \
  template void adamax_step_<T>(T*, const T*, T*, T*, int64_t, const AdamaxParams&); \
  template void radam_step_<T>(T*, const T*, T*, T*, int64_t, const RadamParams&);   \
  template void nadam_step_<T>(T*, const T*, T*, T*, int64_t, const NadamParams&);
DLX_INSTANTIATE(DLX_OPTIM_ADAM_FAMILY)

}  // namespace dlx
