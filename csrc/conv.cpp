#include "conv.h"

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
#include "conv_implicit.h"
#include "threads.h"

namespace dlx {
namespace {

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

}  // namespace

// Images per GEMM: a small output plane (7x7 = 49 positions) makes thin GEMMs that repack
// the weights for every image and fill their 32-column panels badly, so such images share
// one column matrix of at least kMinGemmCols columns. 1 for im2col-free (1x1) convolutions.
constexpr int64_t kMinGemmCols = 512;
// Output planes at least this large use the implicit GEMM (see use_implicit); smaller ones
// batch several images into one explicit GEMM.
constexpr int64_t kMinImplicitCols = 32;
constexpr int64_t kMinImplicitGxChannels = 8;
int64_t images_per_gemm(const Dims& d, int64_t n) {
  if (d.direct || d.l >= kMinGemmCols) return 1;
  return std::clamp<int64_t>((kMinGemmCols + d.l - 1) / d.l, 1, std::max<int64_t>(n, 1));
}

// float32 stride-1 'same' convolutions run as implicit GEMMs on dlx's own kernel: no
// column matrix in memory, for the forward pass and for both gradients.
template <typename T>
bool use_implicit(const Conv2dShape& s, const Dims& d) {
  if constexpr (!std::is_same_v<T, float>) {
    return false;
  } else {
    return s.groups == 1 && !d.direct && s.win.stride_h == 1 && s.win.stride_w == 1 &&
           d.h_out == s.h && d.w_out == s.w && d.l >= kMinImplicitCols && own_sgemm_enabled();
  }
}

// Images per implicit GEMM: small planes side by side (see ConvCols::images).
int64_t implicit_images(const Dims& d, int64_t n) {
  if (d.l >= kMinGemmCols) return 1;
  return std::clamp<int64_t>((kMinGemmCols + d.l - 1) / d.l, 1, std::max<int64_t>(n, 1));
}

// Scatters out[rows, nb * l] (images side by side) into nb images of rows x l, plus bias.
void scatter_images(const float* out, int64_t rows, int64_t nb, int64_t l, float* dst,
                    int64_t dst_stride, const float* bias) {
  const int64_t cols = nb * l;
  for (int64_t j = 0; j < nb; ++j)
    for (int64_t r = 0; r < rows; ++r) {
      const float* src = out + r * cols + j * l;
      float* d = dst + j * dst_stride + r * l;
      const float add = bias != nullptr ? bias[r] : 0.0f;
      for (int64_t i = 0; i < l; ++i) d[i] = src[i] + add;
    }
}

// Implicit convolutions with at most this many output rows (channels) skip the GEMM
// (conv_rows_direct).
constexpr int64_t kMaxDirectRows = 16;
bool use_direct_rows(const Conv2dShape& s, int64_t rows) {
  return rows <= kMaxDirectRows && s.win.kh * s.win.kw <= 64;
}

// The image's (or the output gradient's) columns for the implicit GEMMs.
ConvCols input_cols(const float* xb, const Conv2dShape& s) {
  const Window2d& k = s.win;
  return {xb, s.c, s.h, s.w, k.kh, k.kw, k.dil_h, k.dil_w, k.pad_h, k.pad_w};
}
// Input gradient of a stride-1 'same' convolution = a convolution of the output gradient
// with the flipped, transposed kernel and padding dil * (k - 1) - pad.
ConvCols grad_output_cols(const float* gyb, const Conv2dShape& s) {
  const Window2d& k = s.win;
  return {gyb,
          s.o,
          s.h,
          s.w,
          k.kh,
          k.kw,
          k.dil_h,
          k.dil_w,
          k.dil_h * (k.kh - 1) - k.pad_h,
          k.dil_w * (k.kw - 1) - k.pad_w};
}

template <typename T>
void conv2d_forward(const T* x, const T* weight, const T* bias, T* y, const Conv2dShape& s) {
  const Dims d(s);
  if (s.n == 0 || d.y_size == 0) return;
  const double work = static_cast<double>(s.n) * s.o * d.k * d.l;
  if constexpr (std::is_same_v<T, float>) {
    if (use_implicit<T>(s, d)) {
      const SgemmPackedA w(false, s.o, d.k, weight, d.k);  // packed once for every image
      const int64_t chunk = implicit_images(d, s.n), chunks = (s.n + chunk - 1) / chunk;
      // Up to 16 output channels, one image per call: rows without a GEMM.
      const bool direct_rows = use_direct_rows(s, s.o) && chunk == 1;
      const std::vector<float> w16 =
          direct_rows ? pack_rows16(weight, s.o, d.k) : std::vector<float>();
      const int64_t scratch = chunk > 1 ? checked_mul(s.o * chunk, d.l, "conv2d") : 0;
      for_each_item<T>(chunks, work, scratch, [&](int64_t item, T* ws) {
        const int64_t b0 = item * chunk, nb = std::min(chunk, s.n - b0);
        ConvCols g = input_cols(x + b0 * d.x_size, s);
        g.images = nb;
        g.image_stride = d.x_size;
        const ImplicitCols cols(g, false);
        T* yb = y + b0 * d.y_size;
        if (nb == 1) {
          if (bias != nullptr)
            for (int64_t oc = 0; oc < s.o; ++oc) std::fill_n(yb + oc * d.l, d.l, bias[oc]);
          if (direct_rows)
            conv_rows_direct(w16.data(), s.o, g, yb, d.l, bias != nullptr ? 1.0f : 0.0f);
          else
            own_sgemm_sourced(w, d.l, cols, 1.0f, bias != nullptr ? 1.0f : 0.0f, yb, d.l);
        } else {
          own_sgemm_sourced(w, nb * d.l, cols, 1.0f, 0.0f, ws, nb * d.l);
          scatter_images(ws, s.o, nb, d.l, yb, d.y_size, bias);
        }
      });
      return;
    }
  }
  const int64_t chunk = images_per_gemm(d, s.n), chunks = (s.n + chunk - 1) / chunk;
  // Workspace: the column matrix of `chunk` images, then (chunk > 1) their GEMM output.
  const int64_t scratch = checked_mul(d.col_size, chunk, "conv2d") +
                          (chunk > 1 ? checked_mul(s.o * chunk, d.l, "conv2d") : 0);
  for_each_item<T>(chunks, work, scratch, [&](int64_t item, T* ws) {
    const int64_t b0 = item * chunk, nb = std::min(chunk, s.n - b0);
    if (nb == 1) {
      const T* xb = x + b0 * d.x_size;
      T* yb = y + b0 * d.y_size;
      const T* col = xb;
      if (!d.direct) {
        im2col(xb, ws, s.c, s.h, s.w, s.win);
        col = ws;
      }
      if (bias != nullptr)
        for (int64_t oc = 0; oc < s.o; ++oc) std::fill_n(yb + oc * d.l, d.l, bias[oc]);
      for (int64_t g = 0; g < s.groups; ++g) {
        gemm(false, false, d.og, d.l, d.k, T(1), weight + g * d.og * d.k, d.k, col + g * d.k * d.l,
             d.l, bias != nullptr ? T(1) : T(0), yb + g * d.og * d.l, d.l);
      }
      return;
    }
    // nb images side by side: col is (groups * k, cols), out is (o, cols).
    const int64_t cols = nb * d.l;
    T* col = ws;
    T* out = ws + d.col_size * chunk;
    for (int64_t j = 0; j < nb; ++j)
      im2col(x + (b0 + j) * d.x_size, col + j * d.l, s.c, s.h, s.w, s.win, cols);
    for (int64_t g = 0; g < s.groups; ++g) {
      gemm(false, false, d.og, cols, d.k, T(1), weight + g * d.og * d.k, d.k, col + g * d.k * cols,
           cols, T(0), out + g * d.og * cols, cols);
    }
    for (int64_t j = 0; j < nb; ++j) {
      T* yb = y + (b0 + j) * d.y_size;
      for (int64_t oc = 0; oc < s.o; ++oc) {
        const T* src = out + oc * cols + j * d.l;
        T* dst = yb + oc * d.l;
        const T add = bias != nullptr ? bias[oc] : T(0);
        for (int64_t i = 0; i < d.l; ++i) dst[i] = src[i] + add;
      }
    }
  });
}

template <typename T>
void conv2d_backward(const T* gy, const T* x, const T* weight, T* gx, T* gw, T* gb,
                     const Conv2dShape& s) {
  const Dims d(s);
  const int64_t w_size = s.o * d.k;
  if (s.n == 0 || d.y_size == 0) {
    if (gx != nullptr) std::fill_n(gx, s.n * d.x_size, T(0));
    if (gw != nullptr) std::fill_n(gw, w_size, T(0));
    if (gb != nullptr) std::fill_n(gb, s.o, T(0));
    return;
  }
  const bool implicit = use_implicit<T>(s, d);
  // Several images per implicit GEMM need the channels-last weight gradient (c % 16 == 0).
  const int64_t chunk = !implicit       ? images_per_gemm(d, s.n)
                        : s.c % 16 == 0 ? implicit_images(d, s.n)
                                        : 1;
  const int64_t chunks = (s.n + chunk - 1) / chunk;
  // Fixed runs of chunks (they depend on the shape only, never on the thread count).
  int64_t parts = chunks;
  if (gw != nullptr) {
    const int64_t fit = kPartialBytes / std::max<int64_t>(w_size * sizeof(T), 1);
    parts = std::clamp<int64_t>(std::min(chunks, kMaxParts), 1, std::max<int64_t>(fit, 1));
  }
  // Implicit weight gradient with >= 16 channels: channels-last columns, the gradient comes
  // out in (o, kh, kw, c) order and is permuted when the parts are summed.
  const bool taps_first = implicit && gw != nullptr && s.c % 16 == 0;
  const bool own_parts = gw != nullptr && (parts > 1 || taps_first);
  // Partial sums need no zeroing: each part's first GEMM runs with beta = 0.
  std::unique_ptr<T[]> part_w(own_parts ? new T[parts * w_size] : nullptr);
  std::vector<double> part_b(gb != nullptr ? static_cast<size_t>(parts * s.o) : 0, 0.0);
  // The implicit input gradient is a GEMM with M = input channels: with only a few (an
  // RGB or grey image), the explicit W^T @ gy + col2im is faster.
  const bool implicit_gx = implicit && gx != nullptr && s.c >= kMinImplicitGxChannels;
  const bool need_col = (gw != nullptr || gx != nullptr) && !d.direct &&
                        (!implicit || (gx != nullptr && !implicit_gx));
  const double work =
      static_cast<double>(s.n) * s.o * d.k * d.l * ((gw != nullptr) + (gx != nullptr));
  // Workspace: columns of `chunk` images, then (chunk > 1) their output gradients gathered
  // side by side as one (o, cols) matrix.
  const int64_t scratch = (need_col ? checked_mul(d.col_size, chunk, "conv2d") : 0) +
                          (chunk > 1 ? checked_mul(s.o * chunk, d.l, "conv2d") : 0);

  // Implicit input gradient: the kernel flipped in space with in/out channels swapped,
  // w_flip[ci, (oc, i, j)] = weight[oc, ci, kh - 1 - i, kw - 1 - j], packed once.
  std::unique_ptr<SgemmPackedA> w_flip;
  std::vector<float> flip16;  // the same for conv_rows_direct (at most 16 input channels)
  if constexpr (std::is_same_v<T, float>) {
    if (implicit_gx) {
      const int64_t kh = s.win.kh, kw = s.win.kw, taps = kh * kw, cols = s.o * taps;
      std::vector<float> flipped(static_cast<size_t>(s.c * cols));
      for (int64_t oc = 0; oc < s.o; ++oc)
        for (int64_t ci = 0; ci < s.c; ++ci)
          for (int64_t t = 0; t < taps; ++t)
            flipped[ci * cols + oc * taps + t] = weight[(oc * s.c + ci) * taps + (taps - 1 - t)];
      w_flip = std::make_unique<SgemmPackedA>(false, s.c, cols, flipped.data(), cols);
      if (use_direct_rows(s, s.c)) flip16 = pack_rows16(flipped.data(), s.c, cols);
    }
  }

  // Implicit: channels-last images for the weight gradient; with several images per GEMM
  // also the gathered output gradient and the input gradient before its scatter.
  const int64_t xt_size = taps_first ? checked_mul(d.x_size, chunk, "conv2d") : 0;
  const int64_t gather_size = implicit && chunk > 1 ? checked_mul(s.o * chunk, d.l, "conv2d") +
                                                          checked_mul(d.x_size, chunk, "conv2d")
                                                    : 0;
  for_each_item<T>(parts, work, scratch + xt_size + gather_size, [&](int64_t p, T* ws) {
    T* pw = gw == nullptr ? nullptr : own_parts ? part_w.get() + p * w_size : gw;
    double* pb = gb == nullptr ? nullptr : part_b.data() + p * s.o;
    const int64_t c_lo = p * chunks / parts, c_hi = (p + 1) * chunks / parts;
    for (int64_t ci = c_lo; ci < c_hi; ++ci) {
      const int64_t b0 = ci * chunk, nb = std::min(chunk, s.n - b0);
      const T beta_w = ci == c_lo ? T(0) : T(1);
      if constexpr (std::is_same_v<T, float>) {
        if (implicit) {
          // nb images side by side: columns j = image * l + position (ConvCols::images).
          const int64_t cols_n = nb * d.l;
          const T* gyb = gy + b0 * d.y_size;
          T* xt = ws + scratch;
          T* gyc = xt + xt_size;  // (o, cols_n) when nb > 1
          T* gxc = gyc + s.o * chunk * d.l;
          const T* a = gyb;  // the output gradient as an (o, cols_n) matrix
          if (nb > 1) {
            for (int64_t j = 0; j < nb; ++j)
              for (int64_t oc = 0; oc < s.o; ++oc)
                std::copy_n(gyb + j * d.y_size + oc * d.l, d.l, gyc + oc * cols_n + j * d.l);
            a = gyc;
          }
          ConvCols xg = input_cols(x + b0 * d.x_size, s);
          xg.images = nb;
          xg.image_stride = d.x_size;
          if (pw != nullptr && taps_first) {  // pw[o, (tap, c)] (+)= gy @ cols^T
            for (int64_t j = 0; j < nb; ++j)
              to_channels_last(x + (b0 + j) * d.x_size, s.c, d.l, xt + j * d.x_size);
            const ChannelsLastTapCols cols(xg, xt);
            own_sgemm_sourced(false, s.o, d.k, cols_n, a, cols_n, cols, 1.0f, beta_w, pw, d.k);
          } else if (pw != nullptr) {  // one image: gw[o, k] (+)= gy_b[o, l] @ cols^T[l, k]
            const ImplicitCols cols(xg, true);
            own_sgemm_sourced(false, s.o, d.k, d.l, a, d.l, cols, 1.0f, beta_w, pw, d.k);
          }
          if (pb != nullptr)
            for (int64_t oc = 0; oc < s.o; ++oc) pb[oc] += sum_double(a + oc * cols_n, cols_n);
          if (implicit_gx) {  // gx[c, cols] = w_flip[c, o * kh * kw] @ cols(gy)
            ConvCols gg = grad_output_cols(gyb, s);
            gg.images = nb;
            gg.image_stride = d.y_size;
            const ImplicitCols cols(gg, false);
            T* gxb = gx + b0 * d.x_size;
            if (nb == 1 && !flip16.empty()) {
              conv_rows_direct(flip16.data(), s.c, gg, gxb, d.l, 0.0f);
            } else if (nb == 1) {
              own_sgemm_sourced(*w_flip, d.l, cols, 1.0f, 0.0f, gxb, d.l);
            } else {
              own_sgemm_sourced(*w_flip, cols_n, cols, 1.0f, 0.0f, gxc, cols_n);
              scatter_images(gxc, s.c, nb, d.l, gxb, d.x_size, nullptr);
            }
          } else if (gx != nullptr) {  // one image (nb > 1 needs c % 16 == 0 >= 8)
            T* gxb = gx + b0 * d.x_size;
            gemm(true, false, d.k, d.l, s.o, T(1), weight, d.k, gyb, d.l, T(0), ws, d.l);
            std::fill_n(gxb, d.x_size, T(0));
            col2im_consume(ws, gxb, s.c, s.h, s.w, s.win);
          }
          continue;
        }
      }
      if (nb == 1) {
        const T* xb = x + b0 * d.x_size;
        const T* gyb = gy + b0 * d.y_size;
        if (pw != nullptr) {
          const T* col = xb;
          if (!d.direct) {
            im2col(xb, ws, s.c, s.h, s.w, s.win);
            col = ws;
          }
          for (int64_t g = 0; g < s.groups; ++g) {
            gemm(false, true, d.og, d.k, d.l, T(1), gyb + g * d.og * d.l, d.l, col + g * d.k * d.l,
                 d.l, beta_w, pw + g * d.og * d.k, d.k);
          }
        }
        if (pb != nullptr)
          for (int64_t oc = 0; oc < s.o; ++oc) pb[oc] += sum_double(gyb + oc * d.l, d.l);
        if (gx != nullptr) {
          T* gxb = gx + b0 * d.x_size;
          // Without im2col the column gradient is the input gradient itself.
          T* dcol = d.direct ? gxb : ws;
          for (int64_t g = 0; g < s.groups; ++g) {
            gemm(true, false, d.k, d.l, d.og, T(1), weight + g * d.og * d.k, d.k,
                 gyb + g * d.og * d.l, d.l, T(0), dcol + g * d.k * d.l, d.l);
          }
          if (!d.direct) {
            std::fill_n(gxb, d.x_size, T(0));
            col2im_consume(dcol, gxb, s.c, s.h, s.w, s.win);
          }
        }
        continue;
      }
      // nb images side by side (never direct: images_per_gemm gives 1 there).
      const int64_t cols = nb * d.l;
      T* col = ws;
      T* gyc = ws + d.col_size * chunk;
      for (int64_t j = 0; j < nb; ++j)
        for (int64_t oc = 0; oc < s.o; ++oc)
          std::copy_n(gy + (b0 + j) * d.y_size + oc * d.l, d.l, gyc + oc * cols + j * d.l);
      if (pw != nullptr) {
        for (int64_t j = 0; j < nb; ++j)
          im2col(x + (b0 + j) * d.x_size, col + j * d.l, s.c, s.h, s.w, s.win, cols);
        for (int64_t g = 0; g < s.groups; ++g) {
          gemm(false, true, d.og, d.k, cols, T(1), gyc + g * d.og * cols, cols,
               col + g * d.k * cols, cols, beta_w, pw + g * d.og * d.k, d.k);
        }
      }
      if (pb != nullptr)
        for (int64_t oc = 0; oc < s.o; ++oc) pb[oc] += sum_double(gyc + oc * cols, cols);
      if (gx != nullptr) {
        for (int64_t g = 0; g < s.groups; ++g) {
          gemm(true, false, d.k, cols, d.og, T(1), weight + g * d.og * d.k, d.k,
               gyc + g * d.og * cols, cols, T(0), col + g * d.k * cols, cols);
        }
        for (int64_t j = 0; j < nb; ++j) {
          T* gxb = gx + (b0 + j) * d.x_size;
          std::fill_n(gxb, d.x_size, T(0));
          col2im_consume(col + j * d.l, gxb, s.c, s.h, s.w, s.win, cols);
        }
      }
    }
  });

  if (own_parts) {
    // gw[oc, ci, tap] from parts laid out [oc, ci, tap], or [oc, tap, ci] when taps_first.
    const int64_t taps = s.win.kh * s.win.kw, cin = d.k / taps;
#pragma omp parallel for num_threads(num_threads()) schedule(static) if (parts * w_size > 32768)
    for (int64_t i = 0; i < w_size; ++i) {
      int64_t src = i;
      if (taps_first) {
        const int64_t oc = i / d.k, ci = (i % d.k) / taps, t = i % taps;
        src = oc * d.k + t * cin + ci;
      }
      double acc = 0.0;
      for (int64_t p = 0; p < parts; ++p) acc += static_cast<double>(part_w[p * w_size + src]);
      gw[i] = static_cast<T>(acc);
    }
  }
  if (gb != nullptr) {
    for (int64_t oc = 0; oc < s.o; ++oc) {
      double acc = 0.0;
      for (int64_t p = 0; p < parts; ++p) acc += part_b[p * s.o + oc];
      gb[oc] = static_cast<T>(acc);
    }
  }
}

#define DLX_CONV(T)                                                                      \
  template void conv2d_forward<T>(const T*, const T*, const T*, T*, const Conv2dShape&); \
  template void conv2d_backward<T>(const T*, const T*, const T*, T*, T*, T*, const Conv2dShape&);
DLX_INSTANTIATE(DLX_CONV)

}  // namespace dlx
