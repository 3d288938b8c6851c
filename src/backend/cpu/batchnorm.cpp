// CPU batch normalization: oneDNN primitives for float32 (training forward with batch
// statistics, inference forward with given statistics, full training backward), plain
// per-channel loops for float64 and for the eval-mode backward. x is viewed as (N, C, S).
#include <dnnl.hpp>

#include <cmath>

#include "backend/cpu/cpu_backend.h"
#include "backend/cpu/loops.h"
#include "backend/cpu/onednn_utils.h"

namespace magmadnn::cpu {

namespace {

using namespace onednn;
using dnnl::normalization_flags;
using dnnl::prop_kind;

struct BnGeom {
  int64_t N, C, S;
  explicit BnGeom(const Tensor& x) : N(x.size(0)), C(x.size(1)), S(x.numel() / std::max<int64_t>(1, N * C)) {}
  dnnl::memory::desc data() const { return plain_md({N, C, S, 1}, tag::nchw); }
  dnnl::memory::desc channel() const { return plain_md({C}, tag::x); }
  Key key(int64_t kind, double eps) const {
    int64_t e;
    std::memcpy(&e, &eps, sizeof e);
    Key k;
    k << kind << N << C << S << e;
    return k;
  }
  dnnl::batch_normalization_forward::desc fwd_desc(bool training, double eps) const {
    auto flags = normalization_flags::use_scale | normalization_flags::use_shift;
    if (!training) flags = flags | normalization_flags::use_global_stats;
    return {training ? prop_kind::forward_training : prop_kind::forward_inference, data(), static_cast<float>(eps),
            flags};
  }
};

struct BnForward {
  dnnl::batch_normalization_forward prim;
  dnnl::memory::desc scratch;
};
struct BnBackward {
  dnnl::batch_normalization_backward prim;
  dnnl::memory::desc scratch;
};
PrimitiveCache<BnForward> fwd_cache;
PrimitiveCache<BnBackward> bwd_cache;

template <typename T>
void bn_forward_ref(const T* x, const T* w, const T* b, T* mean, T* var, bool training, double eps, T* y,
                    const BnGeom& g) {
  const int64_t M = g.N * g.S;
#pragma omp parallel for if (g.N * g.C * g.S >= kParallelGrain)
  for (int64_t c = 0; c < g.C; ++c) {
    if (training) {
      double s = 0;
      for (int64_t n = 0; n < g.N; ++n)
        for (int64_t i = 0; i < g.S; ++i) s += x[(n * g.C + c) * g.S + i];
      const double m = s / M;
      double v = 0;
      for (int64_t n = 0; n < g.N; ++n)
        for (int64_t i = 0; i < g.S; ++i) {
          const double d = x[(n * g.C + c) * g.S + i] - m;
          v += d * d;
        }
      mean[c] = static_cast<T>(m);
      var[c] = static_cast<T>(v / M);
    }
    const T invstd = static_cast<T>(1.0 / std::sqrt(static_cast<double>(var[c]) + eps));
    const T scale = w[c] * invstd, shift = b[c] - mean[c] * w[c] * invstd;
    for (int64_t n = 0; n < g.N; ++n) {
      const T* xp = x + (n * g.C + c) * g.S;
      T* yp = y + (n * g.C + c) * g.S;
      for (int64_t i = 0; i < g.S; ++i) yp[i] = xp[i] * scale + shift;
    }
  }
}

// training: gx = w * invstd * (g - mean(g) - xhat * mean(g * xhat)); else gx = g * w * invstd.
template <typename T>
void bn_backward_ref(const T* x, const T* gy, const T* w, const T* mean, const T* var, bool training, double eps,
                     T* gx, T* gw, T* gb, const BnGeom& g) {
  const int64_t M = g.N * g.S;
#pragma omp parallel for if (g.N * g.C * g.S >= kParallelGrain)
  for (int64_t c = 0; c < g.C; ++c) {
    const double invstd = 1.0 / std::sqrt(static_cast<double>(var[c]) + eps);
    double sg = 0, sgx = 0;
    for (int64_t n = 0; n < g.N; ++n)
      for (int64_t i = 0; i < g.S; ++i) {
        const int64_t k = (n * g.C + c) * g.S + i;
        sg += gy[k];
        sgx += gy[k] * (x[k] - mean[c]);
      }
    const double dw = sgx * invstd;  // sum of g * xhat
    if (gw) gw[c] = static_cast<T>(dw);
    if (gb) gb[c] = static_cast<T>(sg);
    if (!gx) continue;
    const double a = w[c] * invstd;
    const double mg = training ? sg / M : 0.0, mgx = training ? dw / M : 0.0;
    for (int64_t n = 0; n < g.N; ++n)
      for (int64_t i = 0; i < g.S; ++i) {
        const int64_t k = (n * g.C + c) * g.S + i;
        const double xhat = (x[k] - mean[c]) * invstd;
        gx[k] = static_cast<T>(a * (gy[k] - mg - xhat * mgx));
      }
  }
}

void check_bn_operands(const char* op, std::initializer_list<const Tensor*> ts) {
  for (const Tensor* t : ts) {
    if (!t->defined()) continue;
    MAGMADNN_CHECK(t->device().is_cpu() && t->is_contiguous(), op,
                   " kernel: expected contiguous CPU tensors, got shape ", t->shape());
  }
}

template <typename T>
T* ptr_or_null(const Tensor& t) {
  return t.defined() ? static_cast<T*>(t.raw_data()) : nullptr;
}

dnnl::memory mem(const dnnl::memory::desc& d, const Tensor& t) { return dnnl::memory(d, engine(), t.raw_data()); }

}  // namespace

void CpuBackend::batch_norm(const Tensor& x, const Tensor& w, const Tensor& b, Tensor& mean, Tensor& var,
                            bool training, double eps, Tensor& y) {
  check_bn_operands("batch_norm", {&x, &w, &b, &mean, &var, &y});
  const BnGeom g(x);
  if (x.numel() == 0) return;
  if (x.dtype() == kFloat32) {
    auto e = fwd_cache.get(g.key(training ? 0 : 1, eps), [&] {
      dnnl::batch_normalization_forward::primitive_desc pd(g.fwd_desc(training, eps), user_scratchpad(), engine());
      return BnForward{dnnl::batch_normalization_forward(pd), pd.scratchpad_desc()};
    });
    Exec ex;
    std::unordered_map<int, dnnl::memory> args{
        {DNNL_ARG_SRC, mem(g.data(), x)},           {DNNL_ARG_DST, mem(g.data(), y)},
        {DNNL_ARG_SCALE, mem(g.channel(), w)},      {DNNL_ARG_SHIFT, mem(g.channel(), b)},
        {DNNL_ARG_MEAN, mem(g.channel(), mean)},    {DNNL_ARG_VARIANCE, mem(g.channel(), var)}};
    ex.add_scratchpad(args, e->scratch);
    e->prim.execute(stream(), args);
    ex.finish();
    return;
  }
  dispatch_float(x.dtype(), "batch_norm", [&](auto tag_) {
    using T = decltype(tag_);
    bn_forward_ref<T>(x.data<T>(), w.data<T>(), b.data<T>(), mean.data<T>(), var.data<T>(), training, eps,
                      y.data<T>(), g);
  });
}

void CpuBackend::batch_norm_backward(const Tensor& x, const Tensor& gy, const Tensor& w, const Tensor& mean,
                                     const Tensor& var, bool training, double eps, Tensor& gx, Tensor& gw,
                                     Tensor& gb) {
  check_bn_operands("batch_norm_backward", {&x, &gy, &w, &mean, &var, &gx, &gw, &gb});
  const BnGeom g(x);
  if (x.numel() == 0) {
    if (gw.defined()) fill(gw, 0);
    if (gb.defined()) fill(gb, 0);
    return;
  }
  if (x.dtype() == kFloat32 && training && gx.defined()) {
    auto e = bwd_cache.get(g.key(2, eps), [&] {
      auto hint = dnnl::batch_normalization_forward::primitive_desc(g.fwd_desc(true, eps), engine());
      dnnl::batch_normalization_backward::desc d(prop_kind::backward, g.data(), g.data(), static_cast<float>(eps),
                                                 normalization_flags::use_scale | normalization_flags::use_shift);
      dnnl::batch_normalization_backward::primitive_desc pd(d, user_scratchpad(), engine(), hint);
      return BnBackward{dnnl::batch_normalization_backward(pd), pd.scratchpad_desc()};
    });
    Exec ex;
    // oneDNN always writes the parameter gradients; unwanted ones land in scratch.
    dnnl::memory dw = gw.defined() ? mem(g.channel(), gw) : ex.temp(g.channel());
    dnnl::memory db = gb.defined() ? mem(g.channel(), gb) : ex.temp(g.channel());
    std::unordered_map<int, dnnl::memory> args{
        {DNNL_ARG_SRC, mem(g.data(), x)},        {DNNL_ARG_DIFF_DST, mem(g.data(), gy)},
        {DNNL_ARG_MEAN, mem(g.channel(), mean)}, {DNNL_ARG_VARIANCE, mem(g.channel(), var)},
        {DNNL_ARG_SCALE, mem(g.channel(), w)},   {DNNL_ARG_DIFF_SRC, mem(g.data(), gx)},
        {DNNL_ARG_DIFF_SCALE, dw},               {DNNL_ARG_DIFF_SHIFT, db},
        {DNNL_ARG_SHIFT, ex.temp(g.channel())}};  // unused by the math, but oneDNN 2.6 insists on it
    ex.add_scratchpad(args, e->scratch);
    e->prim.execute(stream(), args);
    ex.finish();
    return;
  }
  dispatch_float(x.dtype(), "batch_norm_backward", [&](auto tag_) {
    using T = decltype(tag_);
    bn_backward_ref<T>(x.data<T>(), gy.data<T>(), w.data<T>(), mean.data<T>(), var.data<T>(), training, eps,
                       ptr_or_null<T>(gx), ptr_or_null<T>(gw), ptr_or_null<T>(gb), g);
  });
}

}  // namespace magmadnn::cpu
