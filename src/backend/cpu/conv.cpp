// CPU 2-D convolution: oneDNN primitives for float32 (layouts chosen by oneDNN, reordered at
// the edges, cached per shape and parameters; inputs rounded to bf16 on the way in when
// cpu_bf16_active()), plain loops for float64 (gradient checks).
#include <dnnl.hpp>

#include <atomic>
#include <cstdlib>
#include <string>

#include "backend/cpu/cpu_backend.h"
#include "magmadnn/backend/backend.h"
#include "backend/cpu/loops.h"
#include "backend/cpu/onednn_utils.h"

namespace magmadnn {

namespace {
std::atomic<bool>& winograd_flag() {
  static std::atomic<bool> flag{[] {
    const char* e = std::getenv("MAGMADNN_CONV_WINOGRAD");
    return !(e && std::string(e) == "0");
  }()};
  return flag;
}
}  // namespace

void set_conv_winograd(bool enabled) { winograd_flag() = enabled; }
bool conv_winograd_enabled() { return winograd_flag(); }

}  // namespace magmadnn

namespace magmadnn::cpu {

namespace {

using namespace onednn;
using dnnl::algorithm;
using dnnl::prop_kind;

// Geometry of one convolution, in oneDNN's terms. With bf16, the primitive's inputs (src and
// weights forward, diff_dst and weights backward-data, src and diff_dst backward-weights) are
// bf16 and its outputs float32; our tensors stay float32 and the edges' reorders round them.
struct ConvGeom {
  int64_t N, C, H, W, O, KH, KW, OH, OW;
  Conv2dParams p;
  bool bf16 = false;

  ConvGeom(const Tensor& x, const Tensor& w, const Tensor& y, const Conv2dParams& prm)
      : N(x.size(0)), C(x.size(1)), H(x.size(2)), W(x.size(3)), O(w.size(0)), KH(w.size(2)), KW(w.size(3)),
        OH(y.size(2)), OW(y.size(3)), p(prm), bf16(x.dtype() == kFloat32 && cpu_bf16_active()) {}
  Key key(int64_t kind, bool bias) const {
    Key k;
    k << kind << N << C << H << W << O << KH << KW << OH << OW << p.stride_h << p.stride_w << p.pad_h << p.pad_w
      << p.dilation_h << p.dilation_w << p.groups << bias << winograd_eligible() << bf16;
    return k;
  }
  // Element type of the primitive's inputs (user buffers are always float32).
  dt in() const { return bf16 ? dt::bf16 : dt::f32; }
  dnnl::memory::desc src(tag t, dt d = dt::f32) const { return {{N, C, H, W}, d, t}; }
  dnnl::memory::desc dst(tag t, dt d = dt::f32) const { return {{N, O, OH, OW}, d, t}; }
  dnnl::memory::desc wei(bool any, dt d = dt::f32) const {
    const int64_t g = p.groups;
    if (g == 1) return {{O, C, KH, KW}, d, any ? tag::any : tag::oihw};
    return {{g, O / g, C / g, KH, KW}, d, any ? tag::any : tag::goihw};
  }
  dnnl::memory::desc bias() const { return {{O}, dt::f32, tag::x}; }
  dims strides() const { return {p.stride_h, p.stride_w}; }
  dims dilates() const { return {p.dilation_h - 1, p.dilation_w - 1}; }
  dims pad() const { return {p.pad_h, p.pad_w}; }

  // Winograd F(4x4, 3x3) does ~2x fewer flops on dense 3x3 stride-1 layers with many channels
  // (1.4-1.6x faster on the LeNet/ResNet layers measured); its rounding error is ~10x direct's
  // (about 1e-6 of the output's magnitude). See set_conv_winograd(). oneDNN has no bf16 Winograd;
  // direct bf16 is faster than float32 Winograd.
  bool winograd_eligible() const {
    return !bf16 && conv_winograd_enabled() && KH == 3 && KW == 3 && p.stride_h == 1 && p.stride_w == 1 &&
           p.dilation_h == 1 && p.dilation_w == 1 && p.groups == 1 && C % 16 == 0 && O % 16 == 0 && C >= 32 &&
           O >= 32;
  }

  dnnl::convolution_forward::primitive_desc forward_pd(bool with_bias, algorithm alg) const {
    dnnl::convolution_forward::desc d =
        with_bias ? dnnl::convolution_forward::desc(prop_kind::forward_training, alg, src(tag::any, in()),
                                                    wei(true, in()), bias(), dst(tag::any), strides(), dilates(),
                                                    pad(), pad())
                  : dnnl::convolution_forward::desc(prop_kind::forward_training, alg, src(tag::any, in()),
                                                    wei(true, in()), dst(tag::any), strides(), dilates(), pad(),
                                                    pad());
    return {d, user_scratchpad(), engine()};
  }
};

// Builds a primitive descriptor, make(geometry, algorithm): bf16 direct convolution when asked
// for, else (or when oneDNN has no bf16 kernel for this pass or shape) float32 with Winograd where
// eligible, falling back to direct when oneDNN has no Winograd implementation either.
template <typename Make>
auto with_algorithm(const ConvGeom& g, Make&& make) {
  ConvGeom g32 = g;
  if (g.bf16) {
    try {
      return make(g, algorithm::convolution_direct);
    } catch (const dnnl::error&) {
    }
    g32.bf16 = false;
  }
  if (g32.winograd_eligible()) {
    try {
      return make(g32, algorithm::convolution_winograd);
    } catch (const dnnl::error&) {
    }
  }
  return make(g32, algorithm::convolution_direct);
}

struct ConvForward {
  dnnl::convolution_forward prim;
  dnnl::memory::desc scratch;
  Edge src, wei, dst;
};
struct ConvBackwardData {
  dnnl::convolution_backward_data prim;
  dnnl::memory::desc scratch;
  Edge diff_dst, wei, diff_src;
};
struct ConvBackwardWeights {
  dnnl::convolution_backward_weights prim;
  dnnl::memory::desc scratch;
  Edge src, diff_dst, diff_wei;
};

PrimitiveCache<ConvForward> fwd_cache;
PrimitiveCache<ConvBackwardData> bwd_data_cache;
PrimitiveCache<ConvBackwardWeights> bwd_weights_cache;

void conv_forward_f32(const Tensor& x, const Tensor& w, const Tensor& b, Tensor& y, const ConvGeom& g) {
  const bool has_bias = b.defined();
  auto e = fwd_cache.get(g.key(0, has_bias), [&] {
    auto pd = with_algorithm(g, [&](const ConvGeom& gg, algorithm alg) { return gg.forward_pd(has_bias, alg); });
    return ConvForward{dnnl::convolution_forward(pd), pd.scratchpad_desc(), Edge(g.src(tag::nchw), pd.src_desc(), true),
                       Edge(g.wei(false), pd.weights_desc(), true), Edge(g.dst(tag::nchw), pd.dst_desc(), false)};
  });
  Exec ex;
  std::unordered_map<int, dnnl::memory> args{{DNNL_ARG_SRC, ex.input(e->src, x.raw_data())},
                                             {DNNL_ARG_WEIGHTS, ex.input(e->wei, w.raw_data())},
                                             {DNNL_ARG_DST, ex.output(e->dst, y.raw_data())}};
  if (has_bias) args.insert({DNNL_ARG_BIAS, dnnl::memory(g.bias(), engine(), b.raw_data())});
  ex.add_scratchpad(args, e->scratch);
  e->prim.execute(stream(), args);
  ex.finish();
}

std::shared_ptr<ConvBackwardData> bwd_data_entry(const ConvGeom& g) {
  return bwd_data_cache.get(g.key(1, false), [&] {
    auto pd = with_algorithm(g, [&](const ConvGeom& gg, algorithm alg) {
      auto hint = gg.forward_pd(false, alg);
      dnnl::convolution_backward_data::desc d(alg, gg.src(tag::any), gg.wei(true, gg.in()), gg.dst(tag::any, gg.in()),
                                              gg.strides(), gg.dilates(), gg.pad(), gg.pad());
      return dnnl::convolution_backward_data::primitive_desc(d, user_scratchpad(), engine(), hint);
    });
    return ConvBackwardData{dnnl::convolution_backward_data(pd), pd.scratchpad_desc(),
                            Edge(g.dst(tag::nchw), pd.diff_dst_desc(), true), Edge(g.wei(false), pd.weights_desc(), true),
                            Edge(g.src(tag::nchw), pd.diff_src_desc(), false)};
  });
}

// diff_dst: grad_out already in the primitive's layout (shared with the weights pass), or null.
void conv_backward_data_f32(const Tensor& gy, const Tensor& w, Tensor& gx, const ConvGeom& g,
                            const dnnl::memory* diff_dst = nullptr) {
  auto e = bwd_data_entry(g);
  Exec ex;
  std::unordered_map<int, dnnl::memory> args{{DNNL_ARG_DIFF_DST, diff_dst ? *diff_dst : ex.input(e->diff_dst, gy.raw_data())},
                                             {DNNL_ARG_WEIGHTS, ex.input(e->wei, w.raw_data())},
                                             {DNNL_ARG_DIFF_SRC, ex.output(e->diff_src, gx.raw_data())}};
  ex.add_scratchpad(args, e->scratch);
  e->prim.execute(stream(), args);
  ex.finish();
}

std::shared_ptr<ConvBackwardWeights> bwd_weights_entry(const ConvGeom& g, bool has_bias) {
  return bwd_weights_cache.get(g.key(2, has_bias), [&] {
    auto pd = with_algorithm(g, [&](const ConvGeom& gg, algorithm alg) {
      auto hint = gg.forward_pd(has_bias, alg);
      dnnl::convolution_backward_weights::desc d =
          has_bias ? dnnl::convolution_backward_weights::desc(alg, gg.src(tag::any, gg.in()), gg.wei(true), gg.bias(),
                                                              gg.dst(tag::any, gg.in()), gg.strides(), gg.dilates(),
                                                              gg.pad(), gg.pad())
                   : dnnl::convolution_backward_weights::desc(alg, gg.src(tag::any, gg.in()), gg.wei(true),
                                                              gg.dst(tag::any, gg.in()), gg.strides(), gg.dilates(),
                                                              gg.pad(), gg.pad());
      return dnnl::convolution_backward_weights::primitive_desc(d, user_scratchpad(), engine(), hint);
    });
    return ConvBackwardWeights{dnnl::convolution_backward_weights(pd), pd.scratchpad_desc(),
                               Edge(g.src(tag::nchw), pd.src_desc(), true),
                               Edge(g.dst(tag::nchw), pd.diff_dst_desc(), true),
                               Edge(g.wei(false), pd.diff_weights_desc(), false)};
  });
}

void conv_backward_weights_f32(const Tensor& x, const Tensor& gy, Tensor& gw, Tensor& gb, const ConvGeom& g,
                               const dnnl::memory* diff_dst = nullptr) {
  const bool has_bias = gb.defined();
  auto e = bwd_weights_entry(g, has_bias);
  Exec ex;
  std::unordered_map<int, dnnl::memory> args{{DNNL_ARG_SRC, ex.input(e->src, x.raw_data())},
                                             {DNNL_ARG_DIFF_DST, diff_dst ? *diff_dst : ex.input(e->diff_dst, gy.raw_data())},
                                             {DNNL_ARG_DIFF_WEIGHTS, ex.output(e->diff_wei, gw.raw_data())}};
  if (has_bias) args.insert({DNNL_ARG_DIFF_BIAS, dnnl::memory(g.bias(), engine(), gb.raw_data())});
  ex.add_scratchpad(args, e->scratch);
  e->prim.execute(stream(), args);
  ex.finish();
}

// Plain loops (float64): each output element is a gather, so threads never write the same place.
template <typename T>
void conv_forward_ref(const T* x, const T* w, const T* b, T* y, const ConvGeom& g) {
  const auto& p = g.p;
  const int64_t Cg = g.C / p.groups, Og = g.O / p.groups;
#pragma omp parallel for collapse(2) if (g.N * g.O * g.OH * g.OW * Cg * g.KH * g.KW >= kParallelGrain)
  for (int64_t n = 0; n < g.N; ++n) {
    for (int64_t o = 0; o < g.O; ++o) {
      const int64_t c0 = (o / Og) * Cg;
      for (int64_t oh = 0; oh < g.OH; ++oh) {
        for (int64_t ow = 0; ow < g.OW; ++ow) {
          T acc = b ? b[o] : T(0);
          for (int64_t c = 0; c < Cg; ++c) {
            for (int64_t kh = 0; kh < g.KH; ++kh) {
              const int64_t ih = oh * p.stride_h - p.pad_h + kh * p.dilation_h;
              if (ih < 0 || ih >= g.H) continue;
              for (int64_t kw = 0; kw < g.KW; ++kw) {
                const int64_t iw = ow * p.stride_w - p.pad_w + kw * p.dilation_w;
                if (iw < 0 || iw >= g.W) continue;
                acc += x[((n * g.C + c0 + c) * g.H + ih) * g.W + iw] * w[((o * Cg + c) * g.KH + kh) * g.KW + kw];
              }
            }
          }
          y[((n * g.O + o) * g.OH + oh) * g.OW + ow] = acc;
        }
      }
    }
  }
}

template <typename T>
void conv_backward_data_ref(const T* gy, const T* w, T* gx, const ConvGeom& g) {
  const auto& p = g.p;
  const int64_t Cg = g.C / p.groups, Og = g.O / p.groups;
#pragma omp parallel for collapse(2) if (g.N * g.O * g.OH * g.OW * Cg * g.KH * g.KW >= kParallelGrain)
  for (int64_t n = 0; n < g.N; ++n) {
    for (int64_t ci = 0; ci < g.C; ++ci) {
      const int64_t grp = ci / Cg, c = ci % Cg;
      for (int64_t ih = 0; ih < g.H; ++ih) {
        for (int64_t iw = 0; iw < g.W; ++iw) {
          T acc = 0;
          for (int64_t kh = 0; kh < g.KH; ++kh) {
            const int64_t th = ih + p.pad_h - kh * p.dilation_h;
            if (th < 0 || th % p.stride_h != 0 || th / p.stride_h >= g.OH) continue;
            const int64_t oh = th / p.stride_h;
            for (int64_t kw = 0; kw < g.KW; ++kw) {
              const int64_t tw = iw + p.pad_w - kw * p.dilation_w;
              if (tw < 0 || tw % p.stride_w != 0 || tw / p.stride_w >= g.OW) continue;
              const int64_t ow = tw / p.stride_w;
              for (int64_t o = grp * Og; o < (grp + 1) * Og; ++o)
                acc += gy[((n * g.O + o) * g.OH + oh) * g.OW + ow] * w[((o * Cg + c) * g.KH + kh) * g.KW + kw];
            }
          }
          gx[((n * g.C + ci) * g.H + ih) * g.W + iw] = acc;
        }
      }
    }
  }
}

template <typename T>
void conv_backward_weights_ref(const T* x, const T* gy, T* gw, T* gb, const ConvGeom& g) {
  const auto& p = g.p;
  const int64_t Cg = g.C / p.groups, Og = g.O / p.groups;
#pragma omp parallel for collapse(2) if (g.N * g.O * g.OH * g.OW * Cg * g.KH * g.KW >= kParallelGrain)
  for (int64_t o = 0; o < g.O; ++o) {
    for (int64_t c = 0; c < Cg; ++c) {
      const int64_t c0 = (o / Og) * Cg;
      for (int64_t kh = 0; kh < g.KH; ++kh) {
        for (int64_t kw = 0; kw < g.KW; ++kw) {
          T acc = 0;
          for (int64_t n = 0; n < g.N; ++n) {
            for (int64_t oh = 0; oh < g.OH; ++oh) {
              const int64_t ih = oh * p.stride_h - p.pad_h + kh * p.dilation_h;
              if (ih < 0 || ih >= g.H) continue;
              for (int64_t ow = 0; ow < g.OW; ++ow) {
                const int64_t iw = ow * p.stride_w - p.pad_w + kw * p.dilation_w;
                if (iw < 0 || iw >= g.W) continue;
                acc += gy[((n * g.O + o) * g.OH + oh) * g.OW + ow] * x[((n * g.C + c0 + c) * g.H + ih) * g.W + iw];
              }
            }
          }
          gw[((o * Cg + c) * g.KH + kh) * g.KW + kw] = acc;
        }
      }
    }
  }
  if (gb) {
    for (int64_t o = 0; o < g.O; ++o) {
      T acc = 0;
      for (int64_t n = 0; n < g.N; ++n) {
        const T* q = gy + (n * g.O + o) * g.OH * g.OW;
        for (int64_t i = 0; i < g.OH * g.OW; ++i) acc += q[i];
      }
      gb[o] = acc;
    }
  }
}

void check_conv_operands(const char* op, std::initializer_list<const Tensor*> ts) {
  for (const Tensor* t : ts) {
    if (!t->defined()) continue;
    MAGMADNN_CHECK(t->device().is_cpu() && t->is_contiguous(), op,
                   " kernel: expected contiguous CPU tensors, got shape ", t->shape());
  }
}

template <typename T>
const T* ptr_or_null(const Tensor& t) {
  return t.defined() ? static_cast<const T*>(t.raw_data()) : nullptr;
}

}  // namespace

void CpuBackend::conv2d(const Tensor& x, const Tensor& w, const Tensor& b, Tensor& y, const Conv2dParams& p) {
  check_conv_operands("conv2d", {&x, &w, &b, &y});
  const ConvGeom g(x, w, y, p);
  if (y.numel() == 0) return;
  if (x.dtype() == kFloat32) return conv_forward_f32(x, w, b, y, g);
  dispatch_float(x.dtype(), "conv2d", [&](auto tag_) {
    using T = decltype(tag_);
    conv_forward_ref<T>(x.data<T>(), w.data<T>(), ptr_or_null<T>(b), y.data<T>(), g);
  });
}

void CpuBackend::conv2d_backward_data(const Tensor& gy, const Tensor& w, Tensor& gx, const Conv2dParams& p) {
  check_conv_operands("conv2d_backward_data", {&gy, &w, &gx});
  const ConvGeom g(gx, w, gy, p);
  if (gx.numel() == 0) return;
  if (gy.numel() == 0) {
    fill(gx, 0);
    return;
  }
  if (gy.dtype() == kFloat32) return conv_backward_data_f32(gy, w, gx, g);
  dispatch_float(gy.dtype(), "conv2d_backward_data", [&](auto tag_) {
    using T = decltype(tag_);
    conv_backward_data_ref<T>(gy.data<T>(), w.data<T>(), gx.data<T>(), g);
  });
}

void CpuBackend::conv2d_backward(const Tensor& x, const Tensor& gy, const Tensor& w, Tensor& gx, Tensor& gw,
                                 Tensor& gb, const Conv2dParams& p) {
  // When both passes want grad_out in the same non-plain layout, reorder it once.
  if (x.dtype() == kFloat32 && gx.defined() && gw.defined() && gy.numel() > 0 && gx.numel() > 0) {
    check_conv_operands("conv2d_backward", {&x, &gy, &w, &gx, &gw, &gb});
    const ConvGeom g(x, w, gy, p);
    auto ed = bwd_data_entry(g);
    auto ew = bwd_weights_entry(g, gb.defined());
    if (!ed->diff_dst.same && ed->diff_dst.prim == ew->diff_dst.prim) {
      Exec ex;
      dnnl::memory shared = ex.input(ew->diff_dst, gy.raw_data());
      stream().wait();
      conv_backward_weights_f32(x, gy, gw, gb, g, &shared);
      conv_backward_data_f32(gy, w, gx, g, &shared);
      return;
    }
  }
  if (gx.defined()) conv2d_backward_data(gy, w, gx, p);
  if (gw.defined()) conv2d_backward_weights(x, gy, gw, gb, p);
}

void CpuBackend::conv2d_backward_weights(const Tensor& x, const Tensor& gy, Tensor& gw, Tensor& gb,
                                         const Conv2dParams& p) {
  check_conv_operands("conv2d_backward_weights", {&x, &gy, &gw, &gb});
  const ConvGeom g(x, gw, gy, p);
  if (gy.numel() == 0) {
    fill(gw, 0);
    if (gb.defined()) fill(gb, 0);
    return;
  }
  if (x.dtype() == kFloat32) return conv_backward_weights_f32(x, gy, gw, gb, g);
  dispatch_float(x.dtype(), "conv2d_backward_weights", [&](auto tag_) {
    using T = decltype(tag_);
    conv_backward_weights_ref<T>(x.data<T>(), gy.data<T>(), gw.data<T>(), gb.defined() ? gb.data<T>() : nullptr, g);
  });
}

}  // namespace magmadnn::cpu
