// The only place that spells the CBLAS symbol names. Row-major GEMM on raw pointers:
//   C[M,N] = alpha * op(A)[M,K] @ op(B)[K,N] + beta * C
// lda/ldb/ldc are row strides in elements of the stored (untransposed) matrices.
#pragma once

#include <cstdint>

#include "common.h"

#if defined(DLX_BLAS_SCIPY_OPENBLAS)
#include <cblas.h>  // scipy-openblas32's header declares the scipy_-prefixed names
#define DLX_CBLAS(name) scipy_cblas_##name
#else
#include <cblas.h>
#define DLX_CBLAS(name) cblas_##name
#endif

namespace dlx {

// GEMM dimensions must fit the 32-bit BLAS interface.
inline int blas_int(int64_t v, const char* what) {
  DLX_CHECK(v >= 0 && v <= std::numeric_limits<int>::max(), what,
            ": dimension too large for the 32-bit BLAS interface: ", v);
  return static_cast<int>(v);
}

// C = beta * C, the whole GEMM when K == 0 (BLAS rejects lda = 0 there).
template <typename T>
void scale_rows(int64_t m, int64_t n, T beta, T* c, int64_t ldc) {
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) c[i * ldc + j] = beta == T(0) ? T(0) : beta * c[i * ldc + j];
}

inline void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                 const float* a, int64_t lda, const float* b, int64_t ldb, float beta, float* c,
                 int64_t ldc) {
  if (m == 0 || n == 0) return;
  if (k == 0) return scale_rows(m, n, beta, c, ldc);
  DLX_CBLAS(sgemm)(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
                   trans_b ? CblasTrans : CblasNoTrans, blas_int(m, "gemm"), blas_int(n, "gemm"),
                   blas_int(k, "gemm"), alpha, a, blas_int(lda, "gemm"), b, blas_int(ldb, "gemm"),
                   beta, c, blas_int(ldc, "gemm"));
}

inline void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, double alpha,
                 const double* a, int64_t lda, const double* b, int64_t ldb, double beta,
                 double* c, int64_t ldc) {
  if (m == 0 || n == 0) return;
  if (k == 0) return scale_rows(m, n, beta, c, ldc);
  DLX_CBLAS(dgemm)(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
                   trans_b ? CblasTrans : CblasNoTrans, blas_int(m, "gemm"), blas_int(n, "gemm"),
                   blas_int(k, "gemm"), alpha, a, blas_int(lda, "gemm"), b, blas_int(ldb, "gemm"),
                   beta, c, blas_int(ldc, "gemm"));
}

}  // namespace dlx
