// dlx's own float32 GEMM (packed panels, register-blocked micro-kernel, OpenMP over blocks),
// run with the kernels of the active ISA level (sgemm_kernels.h: AVX-512 or AVX2; the
// baseline level has none and uses the BLAS). OpenBLAS's choice of kernels follows its
// core-type detection, which an environment can pin to an older core (OPENBLAS_CORETYPE=
// Haswell runs AVX2 kernels on an AVX-512 CPU at half the speed); this one follows dlx's
// dispatch only.
//
//   C[M,N] = alpha * op(A)[M,K] @ op(B)[K,N] + beta * C      (row-major, like blas.h)
//
// Used by dlx::gemm for float32 when the level has the kernels and DLX_GEMM is not "blas".
// Results are independent of the thread count: every element's sum runs over K in the same
// order whatever the partition (the order depends on the level and the cache blocking).
#pragma once

#include <cstdint>

#include "sgemm_kernels.h"

namespace dlx {

// True when the active level has the kernels and they are selected (env DLX_GEMM=blas opts
// out; set_own_sgemm overrides both, for tests and benchmarks).
bool own_sgemm_enabled();
bool own_sgemm_available();
void set_own_sgemm(bool on);
// "dlx-avx512" / "dlx-avx2" for the active level's kernels, nullptr when it has none.
const char* own_sgemm_name();

// Requires m, n, k >= 1 and row strides lda/ldb/ldc >= the stored row lengths.
void own_sgemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
               const float* a, int64_t lda, const float* b, int64_t ldb, float beta, float* c,
               int64_t ldc);

// op(B) packed once for many products C = alpha * op(A) @ op(B) + beta * C with different
// A (an RNN's recurrent weight, reused at every time step). Needs own_sgemm_available();
// the packing follows the active level's kernels and blocking.
class SgemmPackedB {
 public:
  SgemmPackedB(bool trans_b, int64_t k, int64_t n, const float* b, int64_t ldb);
  ~SgemmPackedB();
  SgemmPackedB(const SgemmPackedB&) = delete;
  SgemmPackedB& operator=(const SgemmPackedB&) = delete;

  int64_t k() const { return k_; }
  int64_t n() const { return n_; }
  // Offset of the packed (column block jc, K block pc) in data().
  const float* block(int64_t jc_index, int64_t pc_index) const;
  void multiply(bool trans_a, int64_t m, float alpha, const float* a, int64_t lda, float beta,
                float* c, int64_t ldc) const;
  const SgemmBlocking& blocking() const { return blk_; }
  const SgemmKernels& kernels() const { return *ker_; }

 private:
  int64_t k_, n_;
  SgemmBlocking blk_;
  const SgemmKernels* ker_;
  float* data_ = nullptr;
};

// y[0:rows] = alpha * A[rows, cols] @ x + beta * y for a row-major A with row stride lda and
// contiguous x, y (a batch-1 dense layer), with the active level's kernel. beta == 0 never
// reads y. Needs own_sgemm_available().
void own_sgemv(int64_t rows, int64_t cols, float alpha, const float* a, int64_t lda, const float* x,
               float beta, float* y);

// op(A) packed once for many products with different B (conv weights at every image).
class SgemmPackedA {
 public:
  SgemmPackedA(bool trans_a, int64_t m, int64_t k, const float* a, int64_t lda);
  ~SgemmPackedA();
  SgemmPackedA(const SgemmPackedA&) = delete;
  SgemmPackedA& operator=(const SgemmPackedA&) = delete;

  int64_t m() const { return m_; }
  int64_t k() const { return k_; }
  const float* block(int64_t ic_index, int64_t pc_index) const;
  const SgemmBlocking& blocking() const { return blk_; }
  const SgemmKernels& kernels() const { return *ker_; }

 private:
  int64_t m_, k_;
  SgemmBlocking blk_;
  const SgemmKernels* ker_;
  float* data_ = nullptr;
};

// Produces op(B) on the fly (implicit im2col): pack() writes rows [p0, p0 + kc) and
// columns [j0, j0 + nj) (nj <= nr, the active level's panel width) of op(B) as
// dst[(p - p0) * nr + (j - j0)], with zeros in columns nj..nr-1. dst is 64-byte aligned.
class SgemmBSource {
 public:
  virtual ~SgemmBSource() = default;
  virtual void pack(int64_t p0, int64_t kc, int64_t j0, int64_t nj, float* dst) const = 0;
};

// C = alpha * A @ B + beta * C with A pre-packed (m, k from it) and B from a source.
void own_sgemm_sourced(const SgemmPackedA& a, int64_t n, const SgemmBSource& b, float alpha,
                       float beta, float* c, int64_t ldc);
// C = alpha * op(A) @ B + beta * C with A plain and B from a source.
void own_sgemm_sourced(bool trans_a, int64_t m, int64_t n, int64_t k, const float* a, int64_t lda,
                       const SgemmBSource& b, float alpha, float beta, float* c, int64_t ldc);

}  // namespace dlx
