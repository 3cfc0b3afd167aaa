// Fused scaled dot-product attention (no dropout) on contiguous row-major batches.
//
// Shapes: q (B, L, E), k (B, S, E), v (B, S, Ev), out (B, L, Ev), probs (B, L, S).
// mask: nullptr, or an additive (MB, L, S) array with MB = 1 (shared) or B; causal masks
// key j > query i (PyTorch's top-left tril). A row whose keys are all masked gives NaN.
//   forward   P = softmax(scale * q k^T + mask) (saved in probs), out = P v
//   backward  dv = P^T gout, dP = gout v^T, dS = P * (dP - rowsum(dP * P)),
//             dq = scale * dS k, dk = scale * dS^T q
// The batch loop runs on OpenMP (each GEMM then single-threaded) when B is at least the
// thread count; otherwise batches run in turn with threaded GEMMs.
#pragma once

#include <cstdint>

namespace dlx {

struct AttentionDims {
  int64_t batch, len_q, len_k, embed, embed_v;
};

template <typename T>
void attention_forward(const T* q, const T* k, const T* v, const T* mask, int64_t mask_batch,
                       bool causal, T scale, const AttentionDims& d, T* out, T* probs);

template <typename T>
void attention_backward(const T* gout, const T* q, const T* k, const T* v, const T* probs,
                        T scale, const AttentionDims& d, T* gq, T* gk, T* gv);

}  // namespace dlx
