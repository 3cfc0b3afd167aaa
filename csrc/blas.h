// The only place that spells the CBLAS symbol names. Row-major GEMM on raw pointers:
//   C[M,N] = alpha * op(A)[M,K] @ op(B)[K,N] + beta * C
// lda/ldb/ldc are row strides in elements of the stored (untransposed) matrices.
#pragma once

#include <cstdint>
#include <memory>
#include <type_traits>

#include "common.h"
#include "sgemm.h"

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

// Thin overloads over the CBLAS routines (row-major throughout).
inline void blas_gemm(bool ta, bool tb, int m, int n, int k, float alpha, const float* a, int lda,
                      const float* b, int ldb, float beta, float* c, int ldc) {
  DLX_CBLAS(sgemm)(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, m,
                   n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}
inline void blas_gemm(bool ta, bool tb, int m, int n, int k, double alpha, const double* a, int lda,
                      const double* b, int ldb, double beta, double* c, int ldc) {
  DLX_CBLAS(dgemm)(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, m,
                   n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}
inline void blas_gemv(bool t, int rows, int cols, float alpha, const float* a, int lda,
                      const float* x, int incx, float beta, float* y, int incy) {
  DLX_CBLAS(sgemv)(CblasRowMajor, t ? CblasTrans : CblasNoTrans, rows, cols, alpha, a, lda, x, incx,
                   beta, y, incy);
}
inline void blas_gemv(bool t, int rows, int cols, double alpha, const double* a, int lda,
                      const double* x, int incx, double beta, double* y, int incy) {
  DLX_CBLAS(dgemv)(CblasRowMajor, t ? CblasTrans : CblasNoTrans, rows, cols, alpha, a, lda, x, incx,
                   beta, y, incy);
}

// GEMM; a single-row or single-column product goes to GEMV, which OpenBLAS runs several
// times faster than its GEMM at M == 1 (batch-1 inference: 50 us -> 8 us for 784x256).
template <typename T>
void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, T alpha, const T* a,
          int64_t lda, const T* b, int64_t ldb, T beta, T* c, int64_t ldc) {
  if (m == 0 || n == 0) return;
  if (k == 0) return scale_rows(m, n, beta, c, ldc);
  const int mi = blas_int(m, "gemm"), ni = blas_int(n, "gemm"), ki = blas_int(k, "gemm");
  const int lda_i = blas_int(lda, "gemm"), ldb_i = blas_int(ldb, "gemm");
  const int ldc_i = blas_int(ldc, "gemm");
  if (m == 1) {
    // c[0, :] = op(B)^T-applied row: op(B) is [K,N]; B stored [N,K] when trans_b, else [K,N].
    const int inc_a = trans_a ? lda_i : 1;  // a's K entries: a row, or a column of [K,1]
    if constexpr (std::is_same_v<T, float>) {
      if (trans_b && inc_a == 1 && own_sgemm_enabled())
        return own_sgemv(n, k, alpha, b, ldb, a, beta, c);
    }
    if (trans_b)
      blas_gemv(false, ni, ki, alpha, b, ldb_i, a, inc_a, beta, c, 1);
    else
      blas_gemv(true, ki, ni, alpha, b, ldb_i, a, inc_a, beta, c, 1);
    return;
  }
  if (n == 1) {
    // c[:, 0] = op(A) @ b-column: op(A) is [M,K]; A stored [K,M] when trans_a, else [M,K].
    const int inc_b = trans_b ? 1 : ldb_i;  // b's K entries: a row of [1,K], or a column
    if constexpr (std::is_same_v<T, float>) {
      if (!trans_a && inc_b == 1 && ldc == 1 && own_sgemm_enabled())
        return own_sgemv(m, k, alpha, a, lda, b, beta, c);
    }
    if (trans_a)
      blas_gemv(true, ki, mi, alpha, a, lda_i, b, inc_b, beta, c, ldc_i);
    else
      blas_gemv(false, mi, ki, alpha, a, lda_i, b, inc_b, beta, c, ldc_i);
    return;
  }
  if constexpr (std::is_same_v<T, float>) {
    // Its panels are 32 columns wide: a narrow C (a 10-class output layer) stays on BLAS.
    if (n >= 16 && own_sgemm_enabled())
      return own_sgemm(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  }
  blas_gemm(trans_a, trans_b, mi, ni, ki, alpha, a, lda_i, b, ldb_i, beta, c, ldc_i);
}

// C = alpha * op(A) @ op(B) + beta * C for many A against one B (an RNN's recurrent weight
// at every time step): with dlx's own float32 GEMM, op(B) is packed once here instead of
// once per product; otherwise each call is a plain gemm().
template <typename T>
class GemmFixedB {
 public:
  GemmFixedB(bool trans_b, int64_t k, int64_t n, const T* b, int64_t ldb)
      : trans_b_(trans_b), k_(k), n_(n), b_(b), ldb_(ldb) {
    if constexpr (std::is_same_v<T, float>) {
      if (k > 0 && n >= 16 && own_sgemm_enabled())
        packed_ = std::make_unique<SgemmPackedB>(trans_b, k, n, b, ldb);
    }
  }
  void operator()(bool trans_a, int64_t m, T alpha, const T* a, int64_t lda, T beta, T* c,
                  int64_t ldc) const {
    if constexpr (std::is_same_v<T, float>) {
      if (packed_ != nullptr && m >= 2)
        return packed_->multiply(trans_a, m, alpha, a, lda, beta, c, ldc);
    }
    gemm(trans_a, trans_b_, m, n_, k_, alpha, a, lda, b_, ldb_, beta, c, ldc);
  }

 private:
  bool trans_b_;
  int64_t k_, n_;
  const T* b_;
  int64_t ldb_;
  std::unique_ptr<SgemmPackedB> packed_;
};

}  // namespace dlx
