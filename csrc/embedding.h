// Embedding lookup and its weight gradient, PyTorch semantics.
//   weight, grad_weight: (v, d); indices: (l) int64, each in [0, v) (the binding checks);
//   out, grad_output: (l, d). C-contiguous.
// embedding_forward: out[i] = weight[indices[i]] (rows copied; parallel over i).
// embedding_backward: grad_weight[r] = sum of grad_output[i] over i with indices[i] == r,
//   added in increasing i (so the result does not depend on the thread count); the row
//   padding_idx (when >= 0) gets zero, and with scale_grad_by_freq each row's sum is
//   divided by the number of times r occurs. The indices are grouped by value (counting
//   sort, or a sort of (index, position) pairs when v is much larger than l), then each
//   distinct row is summed by one thread: no two threads write the same row. Overwritten.
#pragma once

#include <cstdint>

namespace dlx {

template <typename T>
void embedding_forward(const T* weight, const int64_t* indices, T* out, int64_t l, int64_t d);

template <typename T>
void embedding_backward(const T* grad_output, const int64_t* indices, T* grad_weight, int64_t l,
                        int64_t v, int64_t d, int64_t padding_idx, bool scale_grad_by_freq);

}  // namespace dlx
