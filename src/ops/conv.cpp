// conv2d (zero or circular padding) and pad_circular, forward and backward side by side.
// Layout NCHW; the backend does the arithmetic (oneDNN on the CPU), this file checks arguments,
// computes output sizes as PyTorch does, and records the backward.
#include "magmadnn/ops/ops.h"
#include "ops/op_utils.h"

namespace magmadnn {

using autograd::NeedsGrad;

namespace {

// The 3x3 blocks of a circularly padded plane: destination rows/cols in the padded tensor and
// the source rows/cols they copy from. f(dst_r, src_r, nr, dst_c, src_c, nc).
template <typename F>
void for_each_wrap_block(int64_t H, int64_t W, int64_t ph, int64_t pw, F&& f) {
  const int64_t rd[3] = {0, ph, ph + H}, rs[3] = {H - ph, 0, 0}, rn[3] = {ph, H, ph};
  const int64_t cd[3] = {0, pw, pw + W}, cs[3] = {W - pw, 0, 0}, cn[3] = {pw, W, pw};
  for (int r = 0; r < 3; ++r)
    for (int c = 0; c < 3; ++c)
      if (rn[r] > 0 && cn[c] > 0) f(rd[r], rs[r], rn[r], cd[c], cs[c], cn[c]);
}

Tensor block(const Tensor& t, int64_t r0, int64_t nr, int64_t c0, int64_t nc) {
  return t.slice(2, r0, r0 + nr).slice(3, c0, c0 + nc);
}

}  // namespace

Tensor pad_circular(const Tensor& x, int64_t pad_h, int64_t pad_w) {
  detail::check_floating("pad_circular", x);
  MAGMADNN_CHECK(x.dim() == 4, "pad_circular: expected input (N, C, H, W), got ", x.shape());
  const int64_t H = x.size(2), W = x.size(3);
  MAGMADNN_CHECK(pad_h >= 0 && pad_w >= 0, "pad_circular: padding must be non-negative, got (", pad_h, ", ", pad_w,
                 ")");
  MAGMADNN_CHECK(pad_h <= H && pad_w <= W, "pad_circular: padding (", pad_h, ", ", pad_w,
                 ") must not exceed the input's spatial size, got input ", x.shape());
  Backend& be = backend_for(x.device());
  Tensor out = Tensor::empty({x.size(0), x.size(1), H + 2 * pad_h, W + 2 * pad_w}, x.dtype(), x.device());
  if (out.numel() > 0) {
    for_each_wrap_block(H, W, pad_h, pad_w, [&](int64_t dr, int64_t sr, int64_t nr, int64_t dc, int64_t sc, int64_t nc) {
      Tensor dst = block(out, dr, nr, dc, nc);
      be.copy(block(x, sr, nr, sc, nc), dst);
    });
  }
  autograd::record("pad_circular", {x}, out, [pad_h, pad_w, xs = x.shape()](const Tensor& g, const NeedsGrad&) {
    // Every padded element's gradient flows back to the element it copied.
    Backend& b = backend_for(g.device());
    Tensor gx = zeros(xs, g.dtype(), g.device());
    if (gx.numel() > 0) {
      for_each_wrap_block(xs[2], xs[3], pad_h, pad_w,
                          [&](int64_t dr, int64_t sr, int64_t nr, int64_t dc, int64_t sc, int64_t nc) {
                            Tensor dst = block(gx, sr, nr, sc, nc);
                            b.binary(BinaryOp::Add, dst, block(g, dr, nr, dc, nc), dst);
                          });
    }
    return std::vector<Tensor>{gx};
  });
  return out;
}

Tensor conv2d(const Tensor& x_in, const Tensor& weight, const Tensor& bias, const Conv2dArgs& a) {
  detail::check_compatible("conv2d", x_in, weight);
  detail::check_floating("conv2d", x_in);
  MAGMADNN_CHECK(weight.dim() == 4, "conv2d: expected weight (out_channels, in_channels / groups, kH, kW), got ",
                 weight.shape());
  MAGMADNN_CHECK(x_in.dim() == 4, "conv2d: expected input (N, C, H, W), got ", x_in.shape());
  const int64_t O = weight.size(0), KH = weight.size(2), KW = weight.size(3);
  MAGMADNN_CHECK(a.groups >= 1, "conv2d: groups must be positive, got ", a.groups);
  MAGMADNN_CHECK(O % a.groups == 0, "conv2d: groups (", a.groups, ") must divide out_channels (weight ",
                 weight.shape(), ")");
  const int64_t C = weight.size(1) * a.groups;
  MAGMADNN_CHECK(x_in.size(1) == C, "conv2d: expected input with ", C, " channels (weight ", weight.shape(),
                 ", groups ", a.groups, "), got ", x_in.shape());
  MAGMADNN_CHECK(a.stride.h > 0 && a.stride.w > 0, "conv2d: stride must be positive, got (", a.stride.h, ", ",
                 a.stride.w, ")");
  MAGMADNN_CHECK(a.dilation.h > 0 && a.dilation.w > 0, "conv2d: dilation must be positive, got (", a.dilation.h,
                 ", ", a.dilation.w, ")");
  MAGMADNN_CHECK(a.padding.h >= 0 && a.padding.w >= 0, "conv2d: padding must be non-negative, got (", a.padding.h,
                 ", ", a.padding.w, ")");
  if (bias.defined()) {
    detail::check_compatible("conv2d", x_in, bias);
    MAGMADNN_CHECK(bias.dim() == 1 && bias.size(0) == O, "conv2d: expected bias (", O, ") for weight ",
                   weight.shape(), ", got ", bias.shape());
  }
  // Circular padding is an explicit (differentiable) wrap followed by an unpadded convolution.
  Tensor x = x_in;
  Conv2dParams p{a.stride.h, a.stride.w, a.padding.h, a.padding.w, a.dilation.h, a.dilation.w, a.groups};
  if (a.padding_mode == PaddingMode::Circular && (a.padding.h > 0 || a.padding.w > 0)) {
    MAGMADNN_CHECK(a.padding.h <= x_in.size(2) && a.padding.w <= x_in.size(3), "conv2d: circular padding (",
                   a.padding.h, ", ", a.padding.w, ") must not exceed the input's spatial size, got input ",
                   x_in.shape());
    x = pad_circular(x_in, a.padding.h, a.padding.w);
    p.pad_h = p.pad_w = 0;
  }
  const int64_t H = x.size(2) + 2 * p.pad_h, W = x.size(3) + 2 * p.pad_w;
  const int64_t ekh = a.dilation.h * (KH - 1) + 1, ekw = a.dilation.w * (KW - 1) + 1;
  MAGMADNN_CHECK(ekh <= H && ekw <= W, "conv2d: kernel (", KH, ", ", KW, ") with dilation (", a.dilation.h, ", ",
                 a.dilation.w, ") is larger than the padded input (", H, ", ", W, ") for input ", x_in.shape(),
                 " and weight ", weight.shape());
  const int64_t N = x.size(0), OH = (H - ekh) / p.stride_h + 1, OW = (W - ekw) / p.stride_w + 1;

  // x: (N, C, H, W), w: (O, C/g, KH, KW) -> y: (N, O, OH, OW)
  Tensor xc = x.contiguous().detach(), wc = weight.contiguous().detach();
  Tensor bc = bias.defined() ? bias.contiguous().detach() : Tensor();
  Tensor y = Tensor::empty({N, O, OH, OW}, x.dtype(), x.device());
  backend_for(x.device()).conv2d(xc, wc, bc, y, p);

  autograd::record("conv2d", {x, weight, bias}, y,
                   [xc, wc, p, has_bias = bias.defined()](const Tensor& g_in, const NeedsGrad& n) {
                     Backend& be = backend_for(g_in.device());
                     Tensor g = g_in.contiguous();
                     Tensor gx, gw, gb;
                     if (n[0]) gx = Tensor::empty(xc.shape(), xc.dtype(), xc.device());
                     if (n[1]) {
                       gw = Tensor::empty(wc.shape(), wc.dtype(), wc.device());
                       if (has_bias && n[2]) gb = Tensor::empty({wc.size(0)}, wc.dtype(), wc.device());
                     }
                     if (gx.defined() || gw.defined()) be.conv2d_backward(xc, g, wc, gx, gw, gb, p);
                     if (has_bias && n[2] && !n[1]) gb = sum(g, {0, 2, 3});
                     return std::vector<Tensor>{gx, gw, gb};
                   });
  return y;
}

}  // namespace magmadnn
