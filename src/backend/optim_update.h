// The per-element formulas of the fused optimizer updates (PyTorch's SGD, Adam/AdamW, Adagrad,
// RMSprop), shared by the CPU loops (cpu/optim.cpp) and the CUDA kernels (cuda/kernels.cu for one
// tensor, cuda/optim_multi.cu for a list), so the backends cannot drift apart. The scalars each
// update needs are derived from its *Params once per call, on the host, in double where PyTorch
// uses Python floats.
#pragma once

#include <cmath>
#include <cstdint>
#include <type_traits>

#include "backend/host_device.h"
#include "magmadnn/backend/backend.h"

namespace magmadnn::optim_update {

template <typename T>
MAGMADNN_HOST_DEVICE_INLINE T sqrt_of(T x) {
#if defined(__CUDA_ARCH__)
  if constexpr (std::is_same_v<T, float>) {
    return ::sqrtf(x);
  } else {
    return ::sqrt(x);
  }
#else
  return std::sqrt(x);
#endif
}

// ------------------------------------------------------------------------------ SGD

template <typename T>
struct SgdScalars {
  T lr, wd, mom, damp;  // damp = 1 - dampening
  bool first, nesterov;
};
template <typename T>
SgdScalars<T> sgd_scalars(const SgdParams& p) {
  return {T(p.lr), T(p.weight_decay), T(p.momentum), T(1) - T(p.dampening), p.first_step, p.nesterov};
}
// m is null without momentum.
template <typename T>
MAGMADNN_HOST_DEVICE_INLINE void sgd_update(int64_t i, T* w, const T* g, T* m, const SgdScalars<T>& s) {
  T d = g[i] + s.wd * w[i];
  if (m) {
    m[i] = s.first ? d : s.mom * m[i] + s.damp * d;
    d = s.nesterov ? d + s.mom * m[i] : m[i];
  }
  w[i] -= s.lr * d;
}

// ------------------------------------------------------------------------------ Adam / AdamW

template <typename T>
struct AdamScalars {
  T b1, b2, eps, bc2_sqrt, step_size, decay, l2;
};
template <typename T>
AdamScalars<T> adam_scalars(const AdamParams& p) {
  // Bias corrections in double, as PyTorch computes them in Python floats: in float32,
  // 1 - 0.999^t loses digits at small t.
  const double t = static_cast<double>(p.step);
  return {T(p.beta1),
          T(p.beta2),
          T(p.eps),
          T(std::sqrt(1.0 - std::pow(p.beta2, t))),
          T(p.lr / (1.0 - std::pow(p.beta1, t))),
          p.decoupled_weight_decay ? T(1) - T(p.lr) * T(p.weight_decay) : T(1),
          p.decoupled_weight_decay ? T(0) : T(p.weight_decay)};
}
// vmax is null without amsgrad. The maximum is std::max's (a < b ? b : a) on every device.
template <typename T>
MAGMADNN_HOST_DEVICE_INLINE void adam_update(int64_t i, T* w, const T* g, T* m, T* v, T* vmax,
                                   const AdamScalars<T>& s) {
  w[i] *= s.decay;
  const T gi = g[i] + s.l2 * w[i];
  m[i] = s.b1 * m[i] + (T(1) - s.b1) * gi;
  v[i] = s.b2 * v[i] + (T(1) - s.b2) * gi * gi;
  T vi = v[i];
  if (vmax) {
    vmax[i] = vmax[i] < v[i] ? v[i] : vmax[i];
    vi = vmax[i];
  }
  const T denom = sqrt_of(vi) / s.bc2_sqrt + s.eps;
  w[i] -= s.step_size * m[i] / denom;
}

// ------------------------------------------------------------------------------ Adagrad

template <typename T>
struct AdagradScalars {
  T clr, wd, eps;  // clr: the step's learning rate after lr_decay
};
template <typename T>
AdagradScalars<T> adagrad_scalars(const AdagradParams& p) {
  return {T(p.lr / (1.0 + static_cast<double>(p.step - 1) * p.lr_decay)), T(p.weight_decay), T(p.eps)};
}
template <typename T>
MAGMADNN_HOST_DEVICE_INLINE void adagrad_update(int64_t i, T* w, const T* g, T* s_, const AdagradScalars<T>& s) {
  const T gi = g[i] + s.wd * w[i];
  s_[i] += gi * gi;
  w[i] -= s.clr * gi / (sqrt_of(s_[i]) + s.eps);
}

// ------------------------------------------------------------------------------ RMSprop

template <typename T>
struct RmspropScalars {
  T alpha, eps, wd, lr, mom;
};
template <typename T>
RmspropScalars<T> rmsprop_scalars(const RmspropParams& p) {
  return {T(p.alpha), T(p.eps), T(p.weight_decay), T(p.lr), T(p.momentum)};
}
// buf is null without momentum, ga without centering.
template <typename T>
MAGMADNN_HOST_DEVICE_INLINE void rmsprop_update(int64_t i, T* w, const T* g, T* sq, T* buf, T* ga,
                                      const RmspropScalars<T>& s) {
  const T gi = g[i] + s.wd * w[i];
  sq[i] = s.alpha * sq[i] + (T(1) - s.alpha) * gi * gi;
  T avg;
  if (ga) {
    ga[i] = s.alpha * ga[i] + (T(1) - s.alpha) * gi;
    avg = sqrt_of(sq[i] - ga[i] * ga[i]) + s.eps;
  } else {
    avg = sqrt_of(sq[i]) + s.eps;
  }
  if (buf) {
    buf[i] = s.mom * buf[i] + gi / avg;
    w[i] -= s.lr * buf[i];
  } else {
    w[i] -= s.lr * gi / avg;
  }
}

}  // namespace magmadnn::optim_update
