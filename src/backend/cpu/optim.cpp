// CPU fused optimizer updates: one pass over each parameter, PyTorch's update formulas.
#include <cmath>

#include "backend/cpu/cpu_backend.h"
#include "backend/cpu/loops.h"

namespace magmadnn::cpu {

namespace {
void check_step(const Tensor& param, const Tensor& grad, const char* op) {
  MAGMADNN_CHECK(param.is_contiguous() && grad.is_contiguous(), op, ": expected contiguous parameter and gradient");
  MAGMADNN_CHECK(param.shape() == grad.shape(), op, ": gradient shape ", grad.shape(), " differs from parameter ",
                 param.shape());
}
}  // namespace

void CpuBackend::sgd_step(Tensor& param, const Tensor& grad, Tensor& buf, const SgdParams& p) {
  check_step(param, grad, "SGD");
  dispatch_float(param.dtype(), "SGD", [&](auto tag_) {
    using scalar_t = decltype(tag_);
    using T = scalar_t;
    T* w = param.data<T>();
    const T* g = grad.data<T>();
    T* m = p.momentum != 0 ? buf.data<T>() : nullptr;
    const T lr = p.lr, wd = p.weight_decay, mom = p.momentum, damp = T(1) - T(p.dampening);
    const bool first = p.first_step, nesterov = p.nesterov;
    parallel_range(param.numel(), [&](int64_t b, int64_t e) {
#pragma omp simd
      for (int64_t i = b; i < e; ++i) {
        T d = g[i] + wd * w[i];
        if (m) {
          m[i] = first ? d : mom * m[i] + damp * d;
          d = nesterov ? d + mom * m[i] : m[i];
        }
        w[i] -= lr * d;
      }
    });
  });
}

void CpuBackend::adam_step(Tensor& param, const Tensor& grad, Tensor& exp_avg, Tensor& exp_avg_sq,
                           Tensor& max_exp_avg_sq, const AdamParams& p) {
  check_step(param, grad, p.decoupled_weight_decay ? "AdamW" : "Adam");
  dispatch_float(param.dtype(), "Adam", [&](auto tag_) {
    using scalar_t = decltype(tag_);
    using T = scalar_t;
    T* w = param.data<T>();
    const T* g = grad.data<T>();
    T* m = exp_avg.data<T>();
    T* v = exp_avg_sq.data<T>();
    T* vmax = p.amsgrad ? max_exp_avg_sq.data<T>() : nullptr;
    const T b1 = p.beta1, b2 = p.beta2, eps = p.eps;
    // Bias corrections in double, as PyTorch computes them in Python floats: in float32,
    // 1 - 0.999^t loses digits at small t.
    const T bc2_sqrt = T(std::sqrt(1.0 - std::pow(p.beta2, static_cast<double>(p.step))));
    const T step_size = T(p.lr / (1.0 - std::pow(p.beta1, static_cast<double>(p.step))));
    const T decay = p.decoupled_weight_decay ? T(1) - T(p.lr) * T(p.weight_decay) : T(1);
    const T l2 = p.decoupled_weight_decay ? T(0) : T(p.weight_decay);
    parallel_range(param.numel(), [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) {
        w[i] *= decay;
        const T gi = g[i] + l2 * w[i];
        m[i] = b1 * m[i] + (T(1) - b1) * gi;
        v[i] = b2 * v[i] + (T(1) - b2) * gi * gi;
        T vi = v[i];
        if (vmax) {
          vmax[i] = std::max(vmax[i], v[i]);
          vi = vmax[i];
        }
        const T denom = std::sqrt(vi) / bc2_sqrt + eps;
        w[i] -= step_size * m[i] / denom;
      }
    });
  });
}

void CpuBackend::adagrad_step(Tensor& param, const Tensor& grad, Tensor& sum, const AdagradParams& p) {
  check_step(param, grad, "Adagrad");
  dispatch_float(param.dtype(), "Adagrad", [&](auto tag_) {
    using scalar_t = decltype(tag_);
    using T = scalar_t;
    T* w = param.data<T>();
    const T* g = grad.data<T>();
    T* s = sum.data<T>();
    const T clr = T(p.lr / (1.0 + static_cast<double>(p.step - 1) * p.lr_decay));
    const T wd = p.weight_decay, eps = p.eps;
    parallel_range(param.numel(), [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) {
        const T gi = g[i] + wd * w[i];
        s[i] += gi * gi;
        w[i] -= clr * gi / (std::sqrt(s[i]) + eps);
      }
    });
  });
}

void CpuBackend::rmsprop_step(Tensor& param, const Tensor& grad, Tensor& square_avg, Tensor& momentum_buffer,
                              Tensor& grad_avg, const RmspropParams& p) {
  check_step(param, grad, "RMSprop");
  dispatch_float(param.dtype(), "RMSprop", [&](auto tag_) {
    using scalar_t = decltype(tag_);
    using T = scalar_t;
    T* w = param.data<T>();
    const T* g = grad.data<T>();
    T* sq = square_avg.data<T>();
    T* buf = p.momentum > 0 ? momentum_buffer.data<T>() : nullptr;
    T* ga = p.centered ? grad_avg.data<T>() : nullptr;
    const T alpha = p.alpha, eps = p.eps, wd = p.weight_decay, lr = p.lr, mom = p.momentum;
    parallel_range(param.numel(), [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) {
        const T gi = g[i] + wd * w[i];
        sq[i] = alpha * sq[i] + (T(1) - alpha) * gi * gi;
        T avg;
        if (ga) {
          ga[i] = alpha * ga[i] + (T(1) - alpha) * gi;
          avg = std::sqrt(sq[i] - ga[i] * ga[i]) + eps;
        } else {
          avg = std::sqrt(sq[i]) + eps;
        }
        if (buf) {
          buf[i] = mom * buf[i] + gi / avg;
          w[i] -= lr * buf[i];
        } else {
          w[i] -= lr * gi / avg;
        }
      }
    });
  });
}

}  // namespace magmadnn::cpu
