#include "embedding.h"

#include <algorithm>
#include <cstring>
#include <utility>
#include <vector>

#include "common.h"
#include "threads.h"

namespace dlx {
namespace {

constexpr int64_t kParallelWork = 16384;  // elements below which a call stays on one thread

// positions[start[k] .. start[k + 1]) are the i with indices[i] == rows[k], increasing.
struct Groups {
  std::vector<int64_t> rows, start, positions;
};

Groups group_by_index(const int64_t* indices, int64_t l, int64_t v) {
  Groups g;
  g.positions.resize(static_cast<size_t>(l));
  if (v <= 4 * l + 1024) {  // counting sort: O(l + v), stable
    std::vector<int64_t> count(static_cast<size_t>(v) + 1, 0);
    for (int64_t i = 0; i < l; ++i) ++count[static_cast<size_t>(indices[i]) + 1];
    for (int64_t r = 0; r < v; ++r) {
      if (count[r + 1] > 0) g.rows.push_back(r);
      count[r + 1] += count[r];
    }
    for (int64_t r : g.rows) g.start.push_back(count[r]);
    for (int64_t i = 0; i < l; ++i) g.positions[count[indices[i]]++] = i;
  } else {  // few indices into a large table: sort (index, position) pairs
    std::vector<std::pair<int64_t, int64_t>> pairs(static_cast<size_t>(l));
    for (int64_t i = 0; i < l; ++i) pairs[i] = {indices[i], i};
    std::sort(pairs.begin(), pairs.end());
    for (int64_t i = 0; i < l; ++i) {
      if (i == 0 || pairs[i].first != pairs[i - 1].first) {
        g.rows.push_back(pairs[i].first);
        g.start.push_back(i);
      }
      g.positions[i] = pairs[i].second;
    }
  }
  g.start.push_back(l);
  return g;
}

}  // namespace

template <typename T>
void embedding_forward(const T* weight, const int64_t* indices, T* out, int64_t l, int64_t d) {
  const size_t bytes = static_cast<size_t>(d) * sizeof(T);
#pragma omp parallel for num_threads(num_threads()) schedule(static) if (l * d > kParallelWork)
  for (int64_t i = 0; i < l; ++i) {
    if (bytes) std::memcpy(out + i * d, weight + indices[i] * d, bytes);
  }
}

template <typename T>
void embedding_backward(const T* grad_output, const int64_t* indices, T* grad_weight, int64_t l,
                        int64_t v, int64_t d, int64_t padding_idx, bool scale_grad_by_freq) {
  const bool par = (l + v) * d > kParallelWork;
#pragma omp parallel for num_threads(num_threads()) schedule(static) if (par)
  for (int64_t r = 0; r < v; ++r) std::fill_n(grad_weight + r * d, d, T(0));
  if (l == 0 || d == 0) return;
  const Groups g = group_by_index(indices, l, v);
  const auto distinct = static_cast<int64_t>(g.rows.size());
  // Rows differ in how often they occur: dynamic scheduling balances them; each row is
  // summed by one thread in a fixed order, so the schedule cannot change the result.
#pragma omp parallel for num_threads(num_threads()) schedule(dynamic, 8) if (par)
  for (int64_t k = 0; k < distinct; ++k) {
    const int64_t r = g.rows[k];
    if (r == padding_idx) continue;
    T* dst = grad_weight + r * d;
    const int64_t p0 = g.start[k], p1 = g.start[k + 1];
    for (int64_t p = p0; p < p1; ++p) {
      const T* src = grad_output + g.positions[p] * d;
      for (int64_t j = 0; j < d; ++j) dst[j] += src[j];
    }
    if (scale_grad_by_freq && p1 - p0 > 1) {
      const T inv = T(1) / static_cast<T>(p1 - p0);
      for (int64_t j = 0; j < d; ++j) dst[j] *= inv;
    }
  }
}

#define DLX_EMBEDDING(T)                                                                      \
  template void embedding_forward<T>(const T*, const int64_t*, T*, int64_t, int64_t);          \
  template void embedding_backward<T>(const T*, const int64_t*, T*, int64_t, int64_t, int64_t, \
                                      int64_t, bool);
DLX_INSTANTIATE(DLX_EMBEDDING)

}  // namespace dlx
