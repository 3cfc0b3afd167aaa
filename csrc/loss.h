// Loss kernels (PyTorch semantics). Every sum is accumulated in double; `loss` holds one
// element for mean/sum and one per sample (or element) for none. mean over zero samples,
// or over a zero total weight, is 0/0 = NaN, as in PyTorch.
//
// Cross-entropy from logits (cross_entropy.cpp): logits, log_probs (n, c), row-major.
//   class-index targets (n,): ignored rows (target == ignore_index) give 0 loss, 0 grad and
//     are left out of the mean, whose denominator is the sum of weight[target] over the
//     rows kept (their count without weights). With label smoothing eps and W = weight or 1:
//       loss_i = (1 - eps) * (-W[y] lp[y]) + eps / c * (-sum_j W[j] lp[j])
//     Labels must already be checked to lie in [0, c) or equal ignore_index.
//   probability targets (n, c): t' = (1 - eps) t + eps / c, loss_i = -sum_j W[j] t'[j] lp[j];
//     mean divides by n.
//   Forward writes log_probs and loss; backward recomputes softmax as exp(log_probs):
//     index:  g_i [((1 - eps) W[y] + eps/c sum W) p_j - eps/c W[j] - (1 - eps) W[y] [j == y]]
//     prob:   g_i [p_j sum_k W[k] t'[k] - W[j] t'[j]]
//   where g_i is grad_loss[i] (none), grad_loss[0] (sum) or grad_loss[0] / denominator (mean).
//
// Pointwise losses of d = input - target (loss.cpp), any shape flattened to n elements:
//   mse d^2;  l1 |d| (gradient sign(d), 0 at 0);
//   huber  d^2 / 2 if |d| < delta else delta (|d| - delta / 2)
// BCE with logits (loss.cpp): logits and target of n elements whose last axis has length cols;
// pos_weight p has length cols (cols = 1: one shared value), or is nullptr (p = 1):
//   loss = (1 - t) x + (1 + (p - 1) t) (log1p(exp(-|x|)) + max(-x, 0)),
//   gradient (1 - t) - (1 + (p - 1) t) sigmoid(-x).
// Backward scales by grad_loss (one per element for none, else grad_loss[0], / n for mean).
#pragma once

#include <cstdint>

namespace dlx {

enum class Reduction { none, mean, sum };

template <typename T>
void cross_entropy_forward(const T* logits, const int64_t* target, const T* weight, T* log_probs,
                           T* loss, int64_t n, int64_t c, int64_t ignore_index,
                           double label_smoothing, Reduction reduction);

template <typename T>
void cross_entropy_backward(const T* grad_loss, const T* log_probs, const int64_t* target,
                            const T* weight, T* grad_logits, int64_t n, int64_t c,
                            int64_t ignore_index, double label_smoothing, Reduction reduction);

template <typename T>
void cross_entropy_prob_forward(const T* logits, const T* target, const T* weight, T* log_probs,
                                T* loss, int64_t n, int64_t c, double label_smoothing,
                                Reduction reduction);

template <typename T>
void cross_entropy_prob_backward(const T* grad_loss, const T* log_probs, const T* target,
                                 const T* weight, T* grad_logits, int64_t n, int64_t c,
                                 double label_smoothing, Reduction reduction);

enum class PointwiseLoss { mse, l1, huber };

template <typename T>
void pointwise_loss_forward(PointwiseLoss kind, const T* input, const T* target, T* loss, int64_t n,
                            double delta, Reduction reduction);

template <typename T>
void pointwise_loss_backward(PointwiseLoss kind, const T* grad_loss, const T* input,
                             const T* target, T* grad_input, int64_t n, double delta,
                             Reduction reduction);

template <typename T>
void bce_with_logits_forward(const T* logits, const T* target, const T* pos_weight, T* loss,
                             int64_t n, int64_t cols, Reduction reduction);

template <typename T>
void bce_with_logits_backward(const T* grad_loss, const T* logits, const T* target,
                              const T* pos_weight, T* grad_logits, int64_t n, int64_t cols,
                              Reduction reduction);

}  // namespace dlx
