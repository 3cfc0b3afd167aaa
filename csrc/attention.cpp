#include "attention.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "blas.h"
#include "common.h"
#include "threads.h"

namespace dlx {
namespace {

// Masked, scaled scores of one batch (already in p) to softmax rows, in place.
template <typename T>
void softmax_rows(T* p, const T* mask, bool causal, const AttentionDims& d) {
  const T neg_inf = -std::numeric_limits<T>::infinity();
  for (int64_t i = 0; i < d.len_q; ++i) {
    T* row = p + i * d.len_k;
    if (mask != nullptr) {
      const T* mrow = mask + i * d.len_k;
      for (int64_t j = 0; j < d.len_k; ++j) row[j] += mrow[j];
    }
    if (causal)
      for (int64_t j = i + 1; j < d.len_k; ++j) row[j] = neg_inf;
    T m = neg_inf;
    for (int64_t j = 0; j < d.len_k; ++j) m = std::max(m, row[j]);
    if (m == neg_inf) {  // every key masked: NaN, as exp(x - max) / sum gives
      std::fill(row, row + d.len_k, std::numeric_limits<T>::quiet_NaN());
      continue;
    }
    T sum = 0;
    for (int64_t j = 0; j < d.len_k; ++j) {
      row[j] = std::exp(row[j] - m);
      sum += row[j];
    }
    const T inv = T(1) / sum;
    for (int64_t j = 0; j < d.len_k; ++j) row[j] *= inv;
  }
}

// Runs body(b, scratch) for every batch: an OpenMP loop (serial GEMMs) when there are at
// least as many batches as threads, else in turn (threaded GEMMs).
template <typename T, typename F>
void for_batches(int64_t batch, int64_t scratch, F body) {
  const int nth = num_threads();
  if (batch >= nth && nth > 1) {
    BlasSerialScope serial;
#pragma omp parallel num_threads(nth)
    {
      std::vector<T> buf(static_cast<size_t>(scratch));
#pragma omp for schedule(static)
      for (int64_t b = 0; b < batch; ++b) body(b, buf.data());
    }
    return;
  }
  std::vector<T> buf(static_cast<size_t>(scratch));
  for (int64_t b = 0; b < batch; ++b) body(b, buf.data());
}

}  // namespace

template <typename T>
void attention_forward(const T* q, const T* k, const T* v, const T* mask, int64_t mask_batch,
                       bool causal, T scale, const AttentionDims& d, T* out, T* probs) {
  const int64_t L = d.len_q, S = d.len_k, E = d.embed, Ev = d.embed_v;
  for_batches<T>(d.batch, 0, [&](int64_t b, T*) {
    T* p = probs + b * L * S;
    gemm<T>(false, true, L, S, E, scale, q + b * L * E, E, k + b * S * E, E, T(0), p, S);
    const T* m = mask == nullptr ? nullptr : mask + (mask_batch == 1 ? 0 : b) * L * S;
    softmax_rows(p, m, causal, d);
    gemm<T>(false, false, L, Ev, S, T(1), p, S, v + b * S * Ev, Ev, T(0), out + b * L * Ev, Ev);
  });
}

template <typename T>
void attention_backward(const T* gout, const T* q, const T* k, const T* v, const T* probs,
                        T scale, const AttentionDims& d, T* gq, T* gk, T* gv) {
  const int64_t L = d.len_q, S = d.len_k, E = d.embed, Ev = d.embed_v;
  for_batches<T>(d.batch, L * S, [&](int64_t b, T* ds) {
    const T* p = probs + b * L * S;
    const T* go = gout + b * L * Ev;
    gemm<T>(true, false, S, Ev, L, T(1), p, S, go, Ev, T(0), gv + b * S * Ev, Ev);
    gemm<T>(false, true, L, S, Ev, T(1), go, Ev, v + b * S * Ev, Ev, T(0), ds, S);
    for (int64_t i = 0; i < L; ++i) {
      T* row = ds + i * S;
      const T* prow = p + i * S;
      T dot = 0;
      for (int64_t j = 0; j < S; ++j) dot += row[j] * prow[j];
      for (int64_t j = 0; j < S; ++j) row[j] = prow[j] * (row[j] - dot);
    }
    gemm<T>(false, false, L, E, S, scale, ds, S, k + b * S * E, E, T(0), gq + b * L * E, E);
    gemm<T>(true, false, S, E, L, scale, ds, S, q + b * L * E, E, T(0), gk + b * S * E, E);
  });
}

#define DLX_ATTENTION(T)                                                                         \
  template void attention_forward<T>(const T*, const T*, const T*, const T*, int64_t, bool, T, \
                                     const AttentionDims&, T*, T*);                             \
  template void attention_backward<T>(const T*, const T*, const T*, const T*, const T*, T,      \
                                      const AttentionDims&, T*, T*, T*);
DLX_INSTANTIATE(DLX_ATTENTION)
#undef DLX_ATTENTION

}  // namespace dlx
