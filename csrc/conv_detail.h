// Helpers shared by conv.cpp (forward) and conv_backward.cpp: per-thread workspaces,
// the batch loop over OpenMP threads, GEMM sizes, and the choice between the implicit GEMM,
// images batched into one explicit GEMM, and one image per GEMM. Not part of the kernel API.
#pragma once

#include <omp.h>

#include <algorithm>
#include <atomic>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <type_traits>
#include <vector>

#include "blas.h"
#include "common.h"
#include "conv.h"
#include "conv_algo.h"
#include "conv_implicit.h"
#include "cpu.h"
#include "threads.h"

namespace dlx::conv_detail {

// Below this many multiply-adds a call stays on the calling thread.
constexpr double kParallelWork = 131072.0;
// Column workspaces up to this size stay cached per thread between calls.
constexpr size_t kCachedScratchBytes = size_t{32} << 20;
// Batch chunks for the weight gradient: at most this many, each with its own partial sum,
// and at most kPartialBytes of partial sums in total.
constexpr int64_t kMaxParts = 32;
constexpr int64_t kPartialBytes = int64_t{64} << 20;

// One thread's column workspace: a thread-local buffer reused across images and calls,
// or a one-off allocation when it is too large to keep. One live Scratch per thread.
template <typename T>
class Scratch {
 public:
  explicit Scratch(int64_t size) {
    const size_t n = static_cast<size_t>(size);
    if (n == 0) return;
    if (n * sizeof(T) <= kCachedScratchBytes) {
      thread_local std::vector<T> cache;
      if (cache.size() < n) {
        cache = std::vector<T>();
        cache.resize(n);
      }
      data_ = cache.data();
    } else {
      owned_.reset(new T[n]);
      data_ = owned_.get();
    }
  }
  T* data() const { return data_; }

 private:
  T* data_ = nullptr;
  std::unique_ptr<T[]> owned_;
};

// Carries the first exception out of an OpenMP region (throwing across it terminates).
class ErrorSlot {
 public:
  // Runs f, keeping what it throws; false when it threw.
  template <typename F>
  bool run(F&& f) {
    try {
      f();
      return true;
    } catch (...) {
      std::lock_guard<std::mutex> lock(mutex_);
      if (!error_) error_ = std::current_exception();
      failed_.store(true);
      return false;
    }
  }
  bool failed() const { return failed_.load(); }
  void rethrow() const {
    if (error_) std::rethrow_exception(error_);
  }

 private:
  std::mutex mutex_;
  std::exception_ptr error_;
  std::atomic<bool> failed_{false};
};

// Sizes every GEMM of one convolution uses, checked once against the 32-bit BLAS.
struct Dims {
  int64_t h_out, w_out, l;  // l = h_out * w_out output positions
  int64_t cg, og, k;        // per group: in channels, out channels, k = cg * kh * kw
  int64_t x_size, y_size;   // per image
  int64_t col_size;         // workspace per thread (0 when im2col is skipped)
  bool direct;

  explicit Dims(const Conv2dShape& s) {
    h_out = s.win.h_out(s.h);
    w_out = s.win.w_out(s.w);
    l = checked_mul(h_out, w_out, "conv2d");
    cg = s.c / s.groups;
    og = s.o / s.groups;
    k = checked_mul(checked_mul(cg, s.win.kh, "conv2d"), s.win.kw, "conv2d");
    x_size = checked_mul(checked_mul(s.c, s.h, "conv2d"), s.w, "conv2d");
    y_size = checked_mul(s.o, l, "conv2d");
    direct = s.win.is_identity();
    col_size = direct ? 0 : checked_mul(checked_mul(k, s.groups, "conv2d"), l, "conv2d");
    for (int64_t d : {l, k, og, cg}) blas_int(d, "conv2d");
  }
};

// Runs body(b, workspace) for b in [0, count): spread over OpenMP threads with BLAS serial
// when there are enough items and work, else one by one on multi-threaded BLAS. Items are
// handed out dynamically so a thread that loses its core to another process (the machine
// is often shared) does not hold the others up at the end.
template <typename T, typename F>
void for_each_item(int64_t count, double work, int64_t scratch_size, F&& body) {
  const int nt = num_threads();
  if (nt > 1 && count >= nt && work > kParallelWork) {
    BlasSerialScope serial;
    ErrorSlot errors;
#pragma omp parallel num_threads(nt)
    {
      // Every thread must reach the worksharing loop, even one whose allocation failed.
      std::optional<Scratch<T>> ws;
      const bool ready = errors.run([&] { ws.emplace(scratch_size); });
#pragma omp for schedule(dynamic, 1)
      for (int64_t b = 0; b < count; ++b) {
        if (ready && !errors.failed()) errors.run([&] { body(b, ws->data()); });
      }
    }
    errors.rethrow();
  } else {
    Scratch<T> ws(scratch_size);
    for (int64_t b = 0; b < count; ++b) body(b, ws.data());
  }
}

// sum of a[0..len) in double with 8 interleaved accumulators (vectorisable, fixed order).
template <typename T>
double sum_double(const T* a, int64_t len) {
  double acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t i = 0;
  for (; i + 8 <= len; i += 8)
    for (int u = 0; u < 8; ++u) acc[u] += static_cast<double>(a[i + u]);
  for (int u = 0; i < len; ++i, ++u) acc[u] += static_cast<double>(a[i]);
  return ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
}

// Images per GEMM: a small output plane (7x7 = 49 positions) makes thin GEMMs that repack
// the weights for every image and fill their panels badly, so such images share one GEMM of
// at least kMinGemmCols columns. The cache caps that: the GEMM's output block and, for
// im2col, the column matrix (bytes_per_col per column) stay within half of the core's L2
// (cpu.h), where im2col writes them and the GEMM's K blocks pass over them again. 1 for
// im2col-free (1x1) convolutions.
constexpr int64_t kMinGemmCols = 512;
// Output planes at least this large use the implicit GEMM (see use_implicit); smaller ones
// batch several images into one explicit GEMM.
constexpr int64_t kMinImplicitCols = 32;
constexpr int64_t kMinImplicitGxChannels = 8;
// ceil(kMinGemmCols / l) images of l output positions each, capped by the cache, in [1, n].
inline int64_t planes_for_gemm(int64_t l, int64_t n, int64_t bytes_per_col) {
  const int64_t want = (kMinGemmCols + l - 1) / l;
  const int64_t fit = cpu_info().cache.l2 / 2 / std::max<int64_t>(bytes_per_col * l, 1);
  return std::clamp<int64_t>(std::min(want, fit), 1, std::max<int64_t>(n, 1));
}
// Explicit path: a column holds k * groups im2col rows and o outputs of T.
template <typename T>
int64_t images_per_gemm(const Dims& d, const Conv2dShape& s) {
  const int64_t bytes_per_col = (d.col_size / std::max<int64_t>(d.l, 1) + s.o) * sizeof(T);
  return d.direct || d.l >= kMinGemmCols ? 1 : planes_for_gemm(d.l, s.n, bytes_per_col);
}

// The algorithm for this call (conv_algo.h): float32 convolutions of any stride, padding and
// dilation run as implicit GEMMs on dlx's own kernel (no column matrix in memory, for the
// forward pass and both gradients), depthwise ones on the direct kernel.
template <typename T>
ConvAlgo choose_algo(const Conv2dShape& s) {
  return conv_algo_choose(s, std::is_same_v<T, float>);
}

// Images per implicit GEMM: small planes side by side (see ConvCols::images); a column holds
// o outputs (forward) or o output gradients and c input gradients (backward), in float32.
// Kernels of more than 64 taps pack one image at a time (ConvCols' contract).
// The gathers' int32 offsets over the images of one GEMM cap their number.
inline int64_t implicit_images(const Dims& d, const Conv2dShape& s) {
  if (d.l >= kMinGemmCols || s.win.kh * s.win.kw > 64) return 1;
  const int64_t fit = (int64_t{1} << 30) / std::max<int64_t>(std::max(d.x_size, d.y_size), 1);
  return std::clamp<int64_t>(
      std::min(planes_for_gemm(d.l, s.n, (s.o + s.c) * int64_t{sizeof(float)}), fit), 1,
      std::max<int64_t>(s.n, 1));
}

// Scatters out[rows, nb * l] (images side by side) into nb images of rows x l, plus bias.
template <typename T>
void scatter_images(const T* out, int64_t rows, int64_t nb, int64_t l, T* dst, int64_t dst_stride,
                    const T* bias) {
  const int64_t cols = nb * l;
  for (int64_t j = 0; j < nb; ++j)
    for (int64_t r = 0; r < rows; ++r) {
      const T* src = out + r * cols + j * l;
      T* d = dst + j * dst_stride + r * l;
      const T add = bias != nullptr ? bias[r] : T(0);
      for (int64_t i = 0; i < l; ++i) d[i] = src[i] + add;
    }
}

// The inverse: nb images of rows x l (image j at src + j * src_stride) side by side as one
// out[rows, nb * l] matrix.
template <typename T>
void gather_images(const T* src, int64_t rows, int64_t nb, int64_t l, int64_t src_stride, T* out) {
  const int64_t cols = nb * l;
  for (int64_t j = 0; j < nb; ++j)
    for (int64_t r = 0; r < rows; ++r)
      std::copy_n(src + j * src_stride + r * l, l, out + r * cols + j * l);
}

// Implicit convolutions with at most this many output rows (channels) skip the GEMM
// (conv_rows_direct).
constexpr int64_t kMaxDirectRows = 16;
inline bool use_direct_rows(const Conv2dShape& s, int64_t rows) {
  return rows <= kMaxDirectRows && s.win.kh * s.win.kw <= 64;
}

// The image's (or the output gradient's) columns for the implicit GEMMs.
inline ConvCols input_cols(const float* xb, const Conv2dShape& s) {
  const Window2d& k = s.win;
  ConvCols g{xb, s.c, s.h, s.w, k.kh, k.kw, k.dil_h, k.dil_w, k.pad_h, k.pad_w};
  g.stride_h = k.stride_h;
  g.stride_w = k.stride_w;
  g.h_out = k.h_out(s.h);
  g.w_out = k.w_out(s.w);
  return g;
}
// Input gradient of a stride-1 convolution = a stride-1 convolution of the output gradient
// (an h_out x w_out plane) with the flipped, transposed kernel and padding
// dil * (k - 1) - pad (negative when pad is larger), whose output plane is h x w.
inline bool implicit_input_grad(const Conv2dShape& s) {
  return s.win.stride_h == 1 && s.win.stride_w == 1 && s.c >= kMinImplicitGxChannels;
}
// Strided: the input gradient in stride_h * stride_w phases (conv_backward.cpp, GradPhases).
inline bool implicit_input_grad_phases(const Conv2dShape& s) {
  return (s.win.stride_h > 1 || s.win.stride_w > 1) && s.c >= kMinImplicitGxChannels;
}
inline ConvCols grad_output_cols(const float* gyb, const Conv2dShape& s) {
  const Window2d& k = s.win;
  ConvCols g{gyb,
             s.o,
             k.h_out(s.h),
             k.w_out(s.w),
             k.kh,
             k.kw,
             k.dil_h,
             k.dil_w,
             k.dil_h * (k.kh - 1) - k.pad_h,
             k.dil_w * (k.kw - 1) - k.pad_w};
  g.h_out = s.h;
  g.w_out = s.w;
  return g;
}

}  // namespace dlx::conv_detail
