// CPU pooling: oneDNN max/average pooling for float32 (workspace kept for the max backward),
// plain loops for float64 and for the one case oneDNN counts differently (average with
// count_include_pad in ceil mode), and loops for adaptive average pooling.
#include <dnnl.hpp>

#include <cmath>
#include <limits>

#include "backend/cpu/cpu_backend.h"
#include "backend/cpu/loops.h"
#include "backend/cpu/onednn_utils.h"

namespace magmadnn::cpu {

namespace {

using namespace onednn;

struct PoolGeom {
  int64_t N, C, H, W, OH, OW;
  Pool2dParams p;
  PoolGeom(const Tensor& x, const Tensor& y, const Pool2dParams& prm)
      : N(x.size(0)), C(x.size(1)), H(x.size(2)), W(x.size(3)), OH(y.size(2)), OW(y.size(3)), p(prm) {}
  // Ceil mode appears as extra padding at the bottom/right.
  int64_t pad_bottom() const { return std::max(p.pad_h, (OH - 1) * p.stride_h + p.kernel_h - H - p.pad_h); }
  int64_t pad_right() const { return std::max(p.pad_w, (OW - 1) * p.stride_w + p.kernel_w - W - p.pad_w); }
  bool onednn_ok(DType dtype) const {
    if (dtype != kFloat32) return false;
    // oneDNN divides by the full window, PyTorch only by the part inside input + padding.
    return !(p.kind == PoolKind::AvgIncludePad && (pad_bottom() > p.pad_h || pad_right() > p.pad_w));
  }
  Key key(int64_t kind) const {
    Key k;
    k << kind << static_cast<int64_t>(p.kind) << N << C << H << W << OH << OW << p.kernel_h << p.kernel_w
      << p.stride_h << p.stride_w << p.pad_h << p.pad_w;
    return k;
  }
  dnnl::algorithm alg() const {
    switch (p.kind) {
      case PoolKind::Max: return dnnl::algorithm::pooling_max;
      case PoolKind::AvgIncludePad: return dnnl::algorithm::pooling_avg_include_padding;
      default: return dnnl::algorithm::pooling_avg_exclude_padding;
    }
  }
  dnnl::pooling_forward::desc fwd_desc() const {
    return dnnl::pooling_forward::desc(dnnl::prop_kind::forward_training, alg(), plain_md({N, C, H, W}, tag::nchw),
                                       plain_md({N, C, OH, OW}, tag::nchw), {p.stride_h, p.stride_w},
                                       {p.kernel_h, p.kernel_w}, {p.pad_h, p.pad_w}, {pad_bottom(), pad_right()});
  }
};

struct PoolForward {
  dnnl::pooling_forward prim;
  dnnl::memory::desc src, dst, workspace, scratch;
};
struct PoolBackward {
  dnnl::pooling_backward prim;
  dnnl::memory::desc diff_src, diff_dst, workspace, scratch;
};
PrimitiveCache<PoolForward> fwd_cache;
PrimitiveCache<PoolBackward> bwd_cache;

// PyTorch's window for output index o: [start, end) clipped to the input, and the divisor of
// an average (count_include_pad counts padding but not the ceil-mode overhang).
struct Window {
  int64_t start, end, padded;
};
inline Window window(int64_t o, int64_t stride, int64_t pad, int64_t k, int64_t in) {
  int64_t s = o * stride - pad;
  int64_t e = std::min(s + k, in + pad);
  const int64_t padded = e - s;
  return {std::max<int64_t>(s, 0), std::min(e, in), padded};
}

template <typename T>
void pool_forward_ref(const T* x, T* y, int64_t* argmax, const PoolGeom& g) {
  const auto& p = g.p;
#pragma omp parallel for if (g.N * g.C * g.OH * g.OW * p.kernel_h * p.kernel_w >= kParallelGrain)
  for (int64_t nc = 0; nc < g.N * g.C; ++nc) {
    const T* xp = x + nc * g.H * g.W;
    for (int64_t oh = 0; oh < g.OH; ++oh) {
      const Window wh = window(oh, p.stride_h, p.pad_h, p.kernel_h, g.H);
      for (int64_t ow = 0; ow < g.OW; ++ow) {
        const Window ww = window(ow, p.stride_w, p.pad_w, p.kernel_w, g.W);
        const int64_t o = (nc * g.OH + oh) * g.OW + ow;
        if (p.kind == PoolKind::Max) {
          T best = -std::numeric_limits<T>::infinity();
          int64_t arg = wh.start * g.W + ww.start;
          for (int64_t h = wh.start; h < wh.end; ++h)
            for (int64_t w = ww.start; w < ww.end; ++w) {
              const T v = xp[h * g.W + w];
              if (v > best || std::isnan(v)) {  // NaN propagates, as in PyTorch
                best = v;
                arg = h * g.W + w;
              }
            }
          y[o] = best;
          if (argmax) argmax[o] = arg;
        } else {
          T acc = 0;
          for (int64_t h = wh.start; h < wh.end; ++h)
            for (int64_t w = ww.start; w < ww.end; ++w) acc += xp[h * g.W + w];
          const int64_t div = p.kind == PoolKind::AvgIncludePad ? wh.padded * ww.padded
                                                                 : (wh.end - wh.start) * (ww.end - ww.start);
          y[o] = acc / static_cast<T>(div);
        }
      }
    }
  }
}

template <typename T>
void pool_backward_ref(const T* gy, const int64_t* argmax, T* gx, const PoolGeom& g) {
  const auto& p = g.p;
#pragma omp parallel for if (g.N * g.C * g.OH * g.OW * p.kernel_h * p.kernel_w >= kParallelGrain)
  for (int64_t nc = 0; nc < g.N * g.C; ++nc) {
    T* gp = gx + nc * g.H * g.W;
    std::fill(gp, gp + g.H * g.W, T(0));
    for (int64_t oh = 0; oh < g.OH; ++oh) {
      const Window wh = window(oh, p.stride_h, p.pad_h, p.kernel_h, g.H);
      for (int64_t ow = 0; ow < g.OW; ++ow) {
        const int64_t o = (nc * g.OH + oh) * g.OW + ow;
        if (p.kind == PoolKind::Max) {
          gp[argmax[o]] += gy[o];
          continue;
        }
        const Window ww = window(ow, p.stride_w, p.pad_w, p.kernel_w, g.W);
        const int64_t div = p.kind == PoolKind::AvgIncludePad ? wh.padded * ww.padded
                                                               : (wh.end - wh.start) * (ww.end - ww.start);
        const T v = gy[o] / static_cast<T>(div);
        for (int64_t h = wh.start; h < wh.end; ++h)
          for (int64_t w = ww.start; w < ww.end; ++w) gp[h * g.W + w] += v;
      }
    }
  }
}

void check_pool_operands(const char* op, std::initializer_list<const Tensor*> ts) {
  for (const Tensor* t : ts)
    MAGMADNN_CHECK(t->device().is_cpu() && t->is_contiguous() && t->dim() == 4, op,
                   " kernel: expected contiguous 4-D CPU tensors, got shape ", t->shape());
}

}  // namespace

void CpuBackend::pool2d(const Tensor& x, Tensor& y, Tensor& workspace, const Pool2dParams& p) {
  check_pool_operands("pool2d", {&x, &y});
  const PoolGeom g(x, y, p);
  if (y.numel() == 0) return;
  if (g.onednn_ok(x.dtype())) {
    auto e = fwd_cache.get(g.key(0), [&] {
      dnnl::pooling_forward::primitive_desc pd(g.fwd_desc(), user_scratchpad(), engine());
      return PoolForward{dnnl::pooling_forward(pd), pd.src_desc(), pd.dst_desc(), pd.workspace_desc(),
                         pd.scratchpad_desc()};
    });
    Exec ex;
    std::unordered_map<int, dnnl::memory> args{{DNNL_ARG_SRC, dnnl::memory(e->src, engine(), x.raw_data())},
                                               {DNNL_ARG_DST, dnnl::memory(e->dst, engine(), y.raw_data())}};
    if (e->workspace.get_size() > 0) {
      workspace = scratch_bytes(e->workspace.get_size());
      args.insert({DNNL_ARG_WORKSPACE, dnnl::memory(e->workspace, engine(), workspace.raw_data())});
    }
    ex.add_scratchpad(args, e->scratch);
    e->prim.execute(stream(), args);
    ex.finish();
    return;
  }
  if (p.kind == PoolKind::Max) workspace = Tensor::empty(y.shape(), kInt64);
  dispatch_float(x.dtype(), "pool2d", [&](auto tag_) {
    using T = decltype(tag_);
    pool_forward_ref<T>(x.data<T>(), y.data<T>(), p.kind == PoolKind::Max ? workspace.data<int64_t>() : nullptr, g);
  });
}

void CpuBackend::pool2d_backward(const Tensor& gy, const Tensor& workspace, Tensor& gx, const Pool2dParams& p) {
  check_pool_operands("pool2d_backward", {&gy, &gx});
  const PoolGeom g(gx, gy, p);
  if (gx.numel() == 0) return;
  if (gy.numel() == 0) {
    fill(gx, 0);
    return;
  }
  if (g.onednn_ok(gy.dtype())) {
    auto e = bwd_cache.get(g.key(1), [&] {
      dnnl::pooling_forward::primitive_desc hint(g.fwd_desc(), engine());
      dnnl::pooling_backward::desc d(g.alg(), plain_md({g.N, g.C, g.H, g.W}, tag::nchw),
                                     plain_md({g.N, g.C, g.OH, g.OW}, tag::nchw), {p.stride_h, p.stride_w},
                                     {p.kernel_h, p.kernel_w}, {p.pad_h, p.pad_w}, {g.pad_bottom(), g.pad_right()});
      dnnl::pooling_backward::primitive_desc pd(d, user_scratchpad(), engine(), hint);
      return PoolBackward{dnnl::pooling_backward(pd), pd.diff_src_desc(), pd.diff_dst_desc(), pd.workspace_desc(),
                          pd.scratchpad_desc()};
    });
    Exec ex;
    std::unordered_map<int, dnnl::memory> args{{DNNL_ARG_DIFF_DST, dnnl::memory(e->diff_dst, engine(), gy.raw_data())},
                                               {DNNL_ARG_DIFF_SRC, dnnl::memory(e->diff_src, engine(), gx.raw_data())}};
    if (e->workspace.get_size() > 0) {
      MAGMADNN_CHECK(workspace.defined() && workspace.nbytes() >= e->workspace.get_size(),
                     "pool2d_backward: missing or wrong workspace from the forward pass");
      args.insert({DNNL_ARG_WORKSPACE, dnnl::memory(e->workspace, engine(), workspace.raw_data())});
    }
    ex.add_scratchpad(args, e->scratch);
    e->prim.execute(stream(), args);
    ex.finish();
    return;
  }
  if (p.kind == PoolKind::Max)
    MAGMADNN_CHECK(workspace.defined() && workspace.dtype() == kInt64 && workspace.numel() == gy.numel(),
                   "pool2d_backward: missing or wrong workspace from the forward pass");
  dispatch_float(gy.dtype(), "pool2d_backward", [&](auto tag_) {
    using T = decltype(tag_);
    pool_backward_ref<T>(gy.data<T>(), p.kind == PoolKind::Max ? workspace.data<int64_t>() : nullptr, gx.data<T>(), g);
  });
}

// Adaptive average pooling: bin i of an axis of size `in` split into `out` bins covers
// [floor(i * in / out), ceil((i + 1) * in / out)).
namespace {
inline int64_t bin_start(int64_t i, int64_t in, int64_t out) { return (i * in) / out; }
inline int64_t bin_end(int64_t i, int64_t in, int64_t out) { return ((i + 1) * in + out - 1) / out; }
}  // namespace

void CpuBackend::adaptive_avg_pool2d(const Tensor& x, Tensor& y) {
  check_pool_operands("adaptive_avg_pool2d", {&x, &y});
  const int64_t NC = x.size(0) * x.size(1), H = x.size(2), W = x.size(3), OH = y.size(2), OW = y.size(3);
  if (y.numel() == 0) return;
  dispatch_float(x.dtype(), "adaptive_avg_pool2d", [&](auto tag_) {
    using T = decltype(tag_);
    const T* xp = x.data<T>();
    T* yp = y.data<T>();
    if (OH == 1 && OW == 1) {  // global average: one contiguous sum per plane
      const int64_t HW = H * W;
      const T inv = T(1) / static_cast<T>(HW);
#pragma omp parallel for if (NC * HW >= kParallelGrain)
      for (int64_t i = 0; i < NC; ++i) {
        const T* q = xp + i * HW;
        T acc = 0;
#pragma omp simd reduction(+ : acc)
        for (int64_t j = 0; j < HW; ++j) acc += q[j];
        yp[i] = acc * inv;
      }
      return;
    }
#pragma omp parallel for if (NC * H * W >= kParallelGrain)
    for (int64_t i = 0; i < NC; ++i) {
      const T* q = xp + i * H * W;
      for (int64_t oh = 0; oh < OH; ++oh) {
        const int64_t h0 = bin_start(oh, H, OH), h1 = bin_end(oh, H, OH);
        for (int64_t ow = 0; ow < OW; ++ow) {
          const int64_t w0 = bin_start(ow, W, OW), w1 = bin_end(ow, W, OW);
          T acc = 0;
          for (int64_t h = h0; h < h1; ++h)
            for (int64_t w = w0; w < w1; ++w) acc += q[h * W + w];
          yp[(i * OH + oh) * OW + ow] = acc / static_cast<T>((h1 - h0) * (w1 - w0));
        }
      }
    }
  });
}

void CpuBackend::adaptive_avg_pool2d_backward(const Tensor& gy, Tensor& gx) {
  check_pool_operands("adaptive_avg_pool2d_backward", {&gy, &gx});
  const int64_t NC = gx.size(0) * gx.size(1), H = gx.size(2), W = gx.size(3), OH = gy.size(2), OW = gy.size(3);
  if (gx.numel() == 0) return;
  dispatch_float(gx.dtype(), "adaptive_avg_pool2d_backward", [&](auto tag_) {
    using T = decltype(tag_);
    const T* gyp = gy.data<T>();
    T* gxp = gx.data<T>();
#pragma omp parallel for if (NC * H * W >= kParallelGrain)
    for (int64_t i = 0; i < NC; ++i) {
      T* q = gxp + i * H * W;
      if (OH == 1 && OW == 1) {
        const T v = gyp[i] / static_cast<T>(H * W);
        std::fill(q, q + H * W, v);
        continue;
      }
      std::fill(q, q + H * W, T(0));
      for (int64_t oh = 0; oh < OH; ++oh) {
        const int64_t h0 = bin_start(oh, H, OH), h1 = bin_end(oh, H, OH);
        for (int64_t ow = 0; ow < OW; ++ow) {
          const int64_t w0 = bin_start(ow, W, OW), w1 = bin_end(ow, W, OW);
          const T v = gyp[(i * OH + oh) * OW + ow] / static_cast<T>((h1 - h0) * (w1 - w0));
          for (int64_t h = h0; h < h1; ++h)
            for (int64_t w = w0; w < w1; ++w) q[h * W + w] += v;
        }
      }
    }
  });
}

}  // namespace magmadnn::cpu
