// CPU fused optimizer updates: one pass over each parameter, PyTorch's update formulas (shared
// with the CUDA kernels in backend/optim_update.h). Lists of parameters (*_step_group) use the
// Backend defaults, which call these once per parameter.
#include "backend/cpu/cpu_backend.h"
#include "backend/cpu/loops.h"
#include "backend/optim_update.h"

namespace magmadnn::cpu {

namespace ou = magmadnn::optim_update;

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
    const ou::SgdScalars<T> s = ou::sgd_scalars<T>(p);
    parallel_range(param.numel(), [&](int64_t b, int64_t e) {
#pragma omp simd
      for (int64_t i = b; i < e; ++i) ou::sgd_update(i, w, g, m, s);
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
    const ou::AdamScalars<T> s = ou::adam_scalars<T>(p);
    parallel_range(param.numel(), [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) ou::adam_update(i, w, g, m, v, vmax, s);
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
    const ou::AdagradScalars<T> sc = ou::adagrad_scalars<T>(p);
    parallel_range(param.numel(), [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) ou::adagrad_update(i, w, g, s, sc);
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
    const ou::RmspropScalars<T> s = ou::rmsprop_scalars<T>(p);
    parallel_range(param.numel(), [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) ou::rmsprop_update(i, w, g, sq, buf, ga, s);
    });
  });
}

}  // namespace magmadnn::cpu
