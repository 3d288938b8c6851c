// CPU softmax / log-softmax (forward and backward) and the fused cross-entropy loss.
#include <cmath>
#include <limits>

#include "backend/cpu/cpu_backend.h"
#include "backend/cpu/loops.h"

namespace magmadnn::cpu {

namespace {
void geometry(const Tensor& x, int64_t axis, int64_t& outer, int64_t& C, int64_t& inner) {
  outer = 1;
  inner = 1;
  C = x.shape()[axis];
  for (int64_t d = 0; d < axis; ++d) outer *= x.shape()[d];
  for (int64_t d = axis + 1; d < x.dim(); ++d) inner *= x.shape()[d];
}
}  // namespace

void CpuBackend::softmax(const Tensor& x, int64_t axis, bool log, Tensor& out) {
  MAGMADNN_CHECK(x.is_contiguous() && out.is_contiguous(), "softmax kernel: expected contiguous tensors");
  int64_t outer, C, inner;
  geometry(x, axis, outer, C, inner);
  dispatch_float(x.dtype(), "softmax", [&](auto tag_) {
    using scalar_t = decltype(tag_);
    using T = scalar_t;
    const T* px = x.data<T>();
    T* po = out.data<T>();
#pragma omp parallel for collapse(2) if (outer * C * inner >= kParallelGrain)
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t i = 0; i < inner; ++i) {
        const T* xr = px + o * C * inner + i;
        T* yr = po + o * C * inner + i;
        T m = -std::numeric_limits<T>::infinity();
        for (int64_t c = 0; c < C; ++c) m = std::max(m, xr[c * inner]);
        T s = 0;
        for (int64_t c = 0; c < C; ++c) s += std::exp(xr[c * inner] - m);
        if (log) {
          const T lse = m + std::log(s);
          for (int64_t c = 0; c < C; ++c) yr[c * inner] = xr[c * inner] - lse;
        } else {
          const T inv = T(1) / s;
          for (int64_t c = 0; c < C; ++c) yr[c * inner] = std::exp(xr[c * inner] - m) * inv;
        }
      }
  });
}

void CpuBackend::softmax_backward(const Tensor& y, const Tensor& gy, int64_t axis, bool log, Tensor& gx) {
  MAGMADNN_CHECK(y.is_contiguous() && gy.is_contiguous() && gx.is_contiguous(),
                 "softmax_backward kernel: expected contiguous tensors");
  int64_t outer, C, inner;
  geometry(y, axis, outer, C, inner);
  dispatch_float(y.dtype(), "softmax_backward", [&](auto tag_) {
    using scalar_t = decltype(tag_);
    using T = scalar_t;
    const T* py = y.data<T>();
    const T* pg = gy.data<T>();
    T* pgx = gx.data<T>();
#pragma omp parallel for collapse(2) if (outer * C * inner >= kParallelGrain)
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t i = 0; i < inner; ++i) {
        const int64_t base = o * C * inner + i;
        T s = 0;
        if (log) {  // gx = g - exp(y) * sum(g)
          for (int64_t c = 0; c < C; ++c) s += pg[base + c * inner];
          for (int64_t c = 0; c < C; ++c) pgx[base + c * inner] = pg[base + c * inner] - std::exp(py[base + c * inner]) * s;
        } else {  // gx = y * (g - sum(g * y))
          for (int64_t c = 0; c < C; ++c) s += pg[base + c * inner] * py[base + c * inner];
          for (int64_t c = 0; c < C; ++c) pgx[base + c * inner] = py[base + c * inner] * (pg[base + c * inner] - s);
        }
      }
  });
}

void CpuBackend::cross_entropy(const Tensor& logits, const Tensor& target, const Tensor& weight, Reduction reduction,
                               Tensor& log_probs, Tensor& loss) {
  softmax(logits, 1, /*log=*/true, log_probs);
  const int64_t N = logits.size(0), C = logits.size(1);
  const int64_t* t = target.data<int64_t>();
  for (int64_t i = 0; i < N; ++i)
    MAGMADNN_CHECK(t[i] >= 0 && t[i] < C, "cross_entropy: target ", t[i], " at position ", i,
                   " is out of range for ", C, " classes");
  dispatch_float(logits.dtype(), "cross_entropy", [&](auto tag_) {
    using scalar_t = decltype(tag_);
    using T = scalar_t;
    const T* lp = log_probs.data<T>();
    const T* w = weight.defined() ? weight.data<T>() : nullptr;
    T* out = loss.data<T>();
    double total = 0, wsum = 0;
    for (int64_t i = 0; i < N; ++i) {
      const double wi = w ? w[t[i]] : 1.0;
      const double li = -wi * lp[i * C + t[i]];
      if (reduction == Reduction::None) out[i] = static_cast<T>(li);
      total += li;
      wsum += wi;
    }
    if (reduction == Reduction::Sum) out[0] = static_cast<T>(total);
    if (reduction == Reduction::Mean) out[0] = static_cast<T>(total / wsum);
  });
}

void CpuBackend::cross_entropy_backward(const Tensor& log_probs, const Tensor& target, const Tensor& weight,
                                        Reduction reduction, const Tensor& grad_loss, Tensor& grad_logits) {
  const int64_t N = log_probs.size(0), C = log_probs.size(1);
  const int64_t* t = target.data<int64_t>();
  dispatch_float(log_probs.dtype(), "cross_entropy_backward", [&](auto tag_) {
    using scalar_t = decltype(tag_);
    using T = scalar_t;
    const T* lp = log_probs.data<T>();
    const T* w = weight.defined() ? weight.data<T>() : nullptr;
    const T* g = grad_loss.data<T>();
    T* gx = grad_logits.data<T>();
    double scale = 1.0;
    if (reduction == Reduction::Mean) {
      double wsum = 0;
      for (int64_t i = 0; i < N; ++i) wsum += w ? w[t[i]] : 1.0;
      scale = 1.0 / wsum;
    }
#pragma omp parallel for if (N * C >= kParallelGrain)
    for (int64_t i = 0; i < N; ++i) {
      const T gi = static_cast<T>((reduction == Reduction::None ? g[i] : g[0]) * scale * (w ? w[t[i]] : 1.0));
      for (int64_t c = 0; c < C; ++c) gx[i * C + c] = std::exp(lp[i * C + c]) * gi;
      gx[i * C + t[i]] -= gi;
    }
  });
}

}  // namespace magmadnn::cpu
