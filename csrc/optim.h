// Fused optimiser steps (PyTorch torch.optim semantics, single-tensor algorithm).
//
// Layout: `param`, `grad` and every state buffer are n contiguous elements of one dtype T
// (usually a slice of an optimiser's flat buffer holding many parameters back to back).
// Each kernel makes ONE OpenMP pass over them: `param` and the state buffers are updated
// in place, `grad` is only read (weight decay is applied to a private copy of g).
// Scalars arrive as double, already reduced to what the element loop needs (bias
// corrections, step sizes): the caller computes them from the step count. The element
// arithmetic runs in T, in the order PyTorch's single-tensor path uses, so float32
// trajectories agree with torch.optim to rounding.
//
// Nullable state buffers switch an option: SGD's momentum_buffer (momentum != 0),
// RMSprop's momentum_buffer (momentum > 0) and grad_avg (centered), Adam's max_exp_avg_sq
// (amsgrad). Where PyTorch keeps a per-parameter scalar as state (ASGD's eta and mu), the
// caller passes its current value and updates it after the call.
#pragma once

#include <cstdint>

namespace dlx {

// g = grad + weight_decay * p
// momentum != 0: buf = first_step ? g : momentum * buf + (1 - dampening) * g
//                g = nesterov ? g + momentum * buf : buf
// p -= lr * g
struct SgdParams {
  double lr, momentum, dampening, weight_decay;
  bool nesterov, first_step;
};
template <typename T>
void sgd_step_(T* param, const T* grad, T* momentum_buffer, int64_t n, const SgdParams& s);

// g = grad + weight_decay * p;  sum += g * g;  p -= clr * g / (sqrt(sum) + eps)
// where clr = lr / (1 + (step - 1) * lr_decay).
struct AdagradParams {
  double clr, weight_decay, eps;
};
template <typename T>
void adagrad_step_(T* param, const T* grad, T* state_sum, int64_t n, const AdagradParams& s);

// g = grad + weight_decay * p;  sq = alpha * sq + (1 - alpha) * g^2
// centered: ga = lerp(ga, g, 1 - alpha), avg = sqrt(sq - ga^2) + eps, else sqrt(sq) + eps
// momentum > 0: buf = momentum * buf + g / avg, p -= lr * buf;  else p -= lr * g / avg
struct RmspropParams {
  double lr, alpha, eps, weight_decay, momentum;
};
template <typename T>
void rmsprop_step_(T* param, const T* grad, T* square_avg, T* momentum_buffer, T* grad_avg,
                   int64_t n, const RmspropParams& s);

// g = grad + weight_decay * p;  sq = rho * sq + (1 - rho) * g^2
// delta = sqrt(acc + eps) / sqrt(sq + eps) * g;  acc = rho * acc + (1 - rho) * delta^2
// p -= lr * delta
struct AdadeltaParams {
  double lr, rho, eps, weight_decay;
};
template <typename T>
void adadelta_step_(T* param, const T* grad, T* square_avg, T* acc_delta, int64_t n,
                    const AdadeltaParams& s);

// ASGD (averaged SGD). g = grad + weight_decay * p;  p = p * (1 - lambd * eta);
// p = p - eta * g;  ax = (mu != 1) ? ax + (p - ax) * mu : p.
struct AsgdParams {
  double eta, lambd, mu, weight_decay;
};
template <typename T>
void asgd_step_(T* param, const T* grad, T* ax, int64_t n, const AsgdParams& s);

// Rprop (resilient backprop; sign-based, no weight decay in PyTorch). With s = grad * prev:
// factor = etaplus (s > 0), etaminus (s < 0), 1 (s == 0 or NaN);
// step_size = clamp(step_size * factor, step_size_min, step_size_max) (NaN stays NaN);
// g = (s < 0) ? 0 : grad;  p -= sign(g) * step_size (sign(NaN) = 0);  prev = g.
struct RpropParams {
  double etaminus, etaplus, step_size_min, step_size_max;
};
template <typename T>
void rprop_step_(T* param, const T* grad, T* prev, T* step_size, int64_t n,
                 const RpropParams& s);

// Adam / AdamW. decoupled: p *= 1 - lr * weight_decay, else g = grad + weight_decay * p.
// m = lerp(m, g, 1 - beta1);  v = beta2 * v + (1 - beta2) * g^2;  amsgrad: vmax = max(vmax, v)
// p -= (lr / bias_correction1) * m / (sqrt(v or vmax) / sqrt(bias_correction2) + eps)
struct AdamParams {
  double lr, beta1, beta2, eps, weight_decay;
  double bias_correction1, bias_correction2;  // 1 - beta^step
  bool decoupled_weight_decay;
};
template <typename T>
void adam_step_(T* param, const T* grad, T* exp_avg, T* exp_avg_sq, T* max_exp_avg_sq, int64_t n,
                const AdamParams& s);

// RAdam. Moments as Adam. rectify (rho_t > 5):
//   p -= (m / bias_correction1) * lr * (sqrt(bias_correction2) / (sqrt(v) + eps)) * rect
// else p -= (m / bias_correction1) * lr.
struct RadamParams {
  double lr, beta1, beta2, eps, weight_decay;
  double bias_correction1, bias_correction2, rect;
  bool rectify, decoupled_weight_decay;
};
template <typename T>
void radam_step_(T* param, const T* grad, T* exp_avg, T* exp_avg_sq, int64_t n,
                 const RadamParams& s);

// NAdam. Moments as Adam; denom = sqrt(v / bias_correction2) + eps;
// p += grad_coef * g / denom + exp_avg_coef * m / denom, with
// grad_coef = -lr (1 - mu) / (1 - mu_product), exp_avg_coef = -lr mu_next / (1 - mu_product
// mu_next).
struct NadamParams {
  double lr, beta1, beta2, eps, weight_decay;
  double bias_correction2, grad_coef, exp_avg_coef;
  bool decoupled_weight_decay;
};
template <typename T>
void nadam_step_(T* param, const T* grad, T* exp_avg, T* exp_avg_sq, int64_t n,
                 const NadamParams& s);

// Adamax (Adam on the infinity norm). g = grad + weight_decay * p;  m = lerp(m, g, 1 - beta1);
// u = max(beta2 * u, |g| + eps) (NaN wins);  p -= (lr / bias_correction1) * m / u.
struct AdamaxParams {
  double lr, beta1, beta2, eps, weight_decay;
  double bias_correction1;  // 1 - beta1^step
};
template <typename T>
void adamax_step_(T* param, const T* grad, T* exp_avg, T* exp_inf, int64_t n,
                  const AdamaxParams& s);

}  // namespace dlx
