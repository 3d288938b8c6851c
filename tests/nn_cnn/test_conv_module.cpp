// nn::Conv2d: forward against the conv2d op and a plain loop reference, output shapes over many
// option combinations, PyTorch's default initialisation, float64 gradients, the fused ReLU, and
// the errors naming the layer and shapes.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "nn_cnn/nn_cnn_test_util.h"

using namespace magmadnn;
using nn_cnn_test::error_of;
using nn_cnn_test::max_abs_diff;
using ::testing::HasSubstr;

namespace {
// Direct 7-loop convolution with zero or circular padding, in double.
std::vector<double> reference_conv(const Tensor& x, const Tensor& w, const Tensor& b, const Conv2dArgs& a) {
  const auto xv = x.to(kFloat64).to_vector<double>(), wv = w.to(kFloat64).to_vector<double>();
  const std::vector<double> bv = b.defined() ? b.to(kFloat64).to_vector<double>() : std::vector<double>();
  const int64_t n = x.size(0), c = x.size(1), h = x.size(2), wd = x.size(3);
  const int64_t o = w.size(0), cg = w.size(1), kh = w.size(2), kw = w.size(3), og = o / a.groups;
  const int64_t oh = (h + 2 * a.padding.h - a.dilation.h * (kh - 1) - 1) / a.stride.h + 1;
  const int64_t ow = (wd + 2 * a.padding.w - a.dilation.w * (kw - 1) - 1) / a.stride.w + 1;
  std::vector<double> out(n * o * oh * ow);
  for (int64_t in = 0; in < n; ++in)
    for (int64_t oc = 0; oc < o; ++oc)
      for (int64_t y = 0; y < oh; ++y)
        for (int64_t xx = 0; xx < ow; ++xx) {
          double s = bv.empty() ? 0.0 : bv[oc];
          for (int64_t ic = 0; ic < cg; ++ic)
            for (int64_t i = 0; i < kh; ++i)
              for (int64_t j = 0; j < kw; ++j) {
                int64_t yy = y * a.stride.h - a.padding.h + i * a.dilation.h;
                int64_t xj = xx * a.stride.w - a.padding.w + j * a.dilation.w;
                if (a.padding_mode == PaddingMode::Circular) {
                  yy = (yy % h + h) % h;
                  xj = (xj % wd + wd) % wd;
                } else if (yy < 0 || yy >= h || xj < 0 || xj >= wd) {
                  continue;
                }
                const int64_t chan = (oc / og) * cg + ic;
                s += xv[((in * c + chan) * h + yy) * wd + xj] * wv[((oc * cg + ic) * kh + i) * kw + j];
              }
          out[((in * o + oc) * oh + y) * ow + xx] = s;
        }
  return out;
}

struct ConvCase {
  int64_t in, out;
  Size2 kernel, stride, padding, dilation;
  int64_t groups;
  bool bias;
  PaddingMode mode;
  Shape input;
};
}  // namespace

TEST(Conv2dModule, ForwardMatchesOpAndLoopReferenceOverOptionCombinations) {
  manual_seed(10);
  const std::vector<ConvCase> cases = {
      {3, 8, 3, 1, 0, 1, 1, true, PaddingMode::Zeros, {2, 3, 9, 9}},
      {3, 8, 3, 2, 1, 1, 1, true, PaddingMode::Zeros, {2, 3, 9, 9}},
      {3, 4, {3, 2}, {2, 1}, {1, 0}, {1, 2}, 1, false, PaddingMode::Zeros, {1, 3, 8, 7}},
      {4, 6, 3, 1, 2, 2, 2, true, PaddingMode::Zeros, {2, 4, 7, 6}},
      {4, 4, 3, 2, 1, 1, 4, false, PaddingMode::Zeros, {1, 4, 6, 6}},  // depthwise
      {2, 3, 3, 1, 1, 1, 1, true, PaddingMode::Circular, {2, 2, 5, 6}},
      {2, 2, 3, 2, {2, 1}, 1, 1, false, PaddingMode::Circular, {1, 2, 8, 8}},
      {1, 32, 3, 1, 0, 1, 1, true, PaddingMode::Zeros, {2, 1, 12, 12}},
      {5, 7, 1, 2, 0, 1, 1, true, PaddingMode::Zeros, {2, 5, 7, 7}},      // 1x1 projection-like
      {3, 64, 7, 2, 3, 1, 1, false, PaddingMode::Zeros, {1, 3, 20, 18}},  // ImageNet stem
  };
  for (const auto& c : cases) {
    nn::Conv2d conv(nn::Conv2dOptions(c.in, c.out, c.kernel)
                        .stride(c.stride)
                        .padding(c.padding)
                        .dilation(c.dilation)
                        .groups(c.groups)
                        .bias(c.bias)
                        .padding_mode(c.mode));
    SCOPED_TRACE(conv.name());
    EXPECT_EQ(conv.weight().shape(), Shape({c.out, c.in / c.groups, c.kernel.h, c.kernel.w}));
    EXPECT_EQ(conv.bias().defined(), c.bias);
    EXPECT_EQ(conv.parameters().size(), c.bias ? 2u : 1u);
    Tensor x = randn(c.input);
    Tensor y = conv(x);
    const Conv2dArgs& a = conv.options().args();
    const int64_t oh = (c.input[2] + 2 * c.padding.h - c.dilation.h * (c.kernel.h - 1) - 1) / c.stride.h + 1;
    const int64_t ow = (c.input[3] + 2 * c.padding.w - c.dilation.w * (c.kernel.w - 1) - 1) / c.stride.w + 1;
    ASSERT_EQ(y.shape(), Shape({c.input[0], c.out, oh, ow}));
    EXPECT_LT(max_abs_diff(y, conv2d(x, conv.weight(), conv.bias(), a)), 1e-6);
    const auto ref = reference_conv(x, conv.weight(), conv.bias(), a);
    EXPECT_LT(max_abs_diff(y, from_vector<double>(ref, y.shape())), 2e-5);
  }
}

TEST(Conv2dModule, NamesItselfLikePyTorch) {
  EXPECT_EQ(nn::Conv2d(nn::Conv2dOptions(1, 32, 3)).name(),
            "Conv2d(1, 32, kernel_size=(3, 3), stride=(1, 1))");
  EXPECT_EQ(nn::Conv2d(nn::Conv2dOptions(4, 8, {3, 1})
                           .stride(2)
                           .padding({1, 0})
                           .dilation(2)
                           .groups(2)
                           .bias(false)
                           .padding_mode(PaddingMode::Circular))
                .name(),
            "Conv2d(4, 8, kernel_size=(3, 1), stride=(2, 2), padding=(1, 0), dilation=(2, 2), groups=2, "
            "padding_mode=circular, bias=false)");
  nn::Conv2d conv(nn::Conv2dOptions(2, 3, 3));
  const auto sd = conv.state_dict();
  EXPECT_EQ(sd.size(), 2u);
  EXPECT_TRUE(sd.count("weight") && sd.count("bias"));
}

TEST(Conv2dModule, DefaultInitIsKaimingUniformWithPyTorchBounds) {
  manual_seed(11);
  // kaiming_uniform(a = sqrt(5)) gives bound sqrt(6 / ((1 + 5) * fan_in)) = 1 / sqrt(fan_in), the
  // same as the bias bound; fan_in = in / groups * kH * kW.
  for (int64_t groups : {1, 2}) {
    nn::Conv2d conv(nn::Conv2dOptions(8, 32, {3, 5}).groups(groups));
    const double fan_in = 8.0 / groups * 15.0, bound = 1.0 / std::sqrt(fan_in);
    for (Tensor* t : {&conv.weight(), &conv.bias()}) {
      const auto v = t->to_vector<double>();
      double lo = 1e9, hi = -1e9, s = 0, s2 = 0;
      for (double e : v) {
        lo = std::min(lo, e);
        hi = std::max(hi, e);
        s += e;
        s2 += e * e;
      }
      EXPECT_GE(lo, -bound - 1e-7);
      EXPECT_LE(hi, bound + 1e-7);
      if (v.size() > 100) {  // a uniform distribution on [-bound, bound]: mean 0, variance bound^2 / 3
        EXPECT_GT(hi, 0.9 * bound);
        EXPECT_LT(lo, -0.9 * bound);
        EXPECT_NEAR(s / v.size(), 0.0, 0.1 * bound);
        EXPECT_NEAR(s2 / v.size(), bound * bound / 3, 0.15 * bound * bound / 3);
      }
    }
  }
  // manual_seed reproduces the initialisation.
  manual_seed(12);
  nn::Conv2d a(nn::Conv2dOptions(2, 3, 3));
  manual_seed(12);
  nn::Conv2d b(nn::Conv2dOptions(2, 3, 3));
  EXPECT_EQ(a.weight().to_vector<float>(), b.weight().to_vector<float>());
  EXPECT_EQ(a.bias().to_vector<float>(), b.bias().to_vector<float>());
}

TEST(Conv2dModule, Float64GradcheckOfInputWeightAndBias) {
  manual_seed(13);
  const std::vector<nn::Conv2dOptions> options = {
      nn::Conv2dOptions(2, 3, 3).padding(1),
      nn::Conv2dOptions(2, 3, 3).padding(1).padding_mode(PaddingMode::Circular),
      nn::Conv2dOptions(4, 2, {2, 3}).stride({2, 1}).dilation({1, 2}).groups(2),
  };
  for (const auto& o : options) {
    auto conv = std::make_shared<nn::Conv2d>(o);
    SCOPED_TRACE(conv->name());
    conv->to(kFloat64);
    ASSERT_EQ(conv->weight().dtype(), kFloat64);
    Tensor x = randn({2, o.in_channels(), 5, 6}, kFloat64).set_requires_grad();
    // The parameters enter as inputs so the check covers their gradients too.
    auto f = [&](const std::vector<Tensor>& in) { return conv2d(in[0], in[1], in[2], o.args()); };
    auto r = autograd::gradcheck(f, {x, conv->weight(), conv->bias()});
    EXPECT_TRUE(r.ok) << r.message;
    // And through the module: backward fills the module's own parameter gradients.
    sum(mul((*conv)(x), (*conv)(x))).backward();
    EXPECT_TRUE(conv->weight().grad().defined());
    EXPECT_TRUE(conv->bias().grad().defined());
    auto rm = autograd::gradcheck([&](const std::vector<Tensor>& in) { return (*conv)(in[0]); }, {x});
    EXPECT_TRUE(rm.ok) << rm.message;
  }
}

TEST(Conv2dModule, FusedReluEqualsReluOfConvAndAllocatesNothingExtraWithoutGrad) {
  manual_seed(14);
  nn::Conv2d conv(nn::Conv2dOptions(3, 8, 3).padding(1));
  Tensor x = randn({2, 3, 10, 10});
  Tensor reference = relu(conv(x));
  conv.set_fused_relu(true);
  EXPECT_THAT(conv.name(), HasSubstr("fused_relu=true"));
  // With autograd recording, the fused layer still differentiates through the ReLU.
  Tensor y = conv(x);
  EXPECT_LT(max_abs_diff(y, reference), 1e-6);
  sum(y).backward();
  EXPECT_TRUE(conv.weight().grad().defined());
  NoGradGuard no_grad;
  Allocator& alloc = cpu_allocator();
  conv.set_fused_relu(false);
  (void)conv(x);  // warm any cached primitive
  const size_t base = alloc.stats().bytes_in_use;
  alloc.reset_peak();
  Tensor plain = conv(x);
  const size_t plain_peak = alloc.stats().peak_bytes_in_use - base;
  conv.set_fused_relu(true);
  const size_t base2 = alloc.stats().bytes_in_use;
  alloc.reset_peak();
  Tensor fused = conv(x);
  const size_t fused_peak = alloc.stats().peak_bytes_in_use - base2;
  EXPECT_LT(max_abs_diff(fused, reference), 1e-6);
  EXPECT_LE(fused_peak, plain_peak);  // the ReLU ran in place on the convolution's output
}

TEST(Conv2dModule, ErrorsNameTheLayerAndShapes) {
  nn::Conv2d conv(nn::Conv2dOptions(1, 32, 3));
  EXPECT_THAT(
      error_of([&] {
        conv(randn({64, 3, 28, 28}));
      }),
      HasSubstr("Conv2d(1, 32, kernel_size=(3, 3), stride=(1, 1)): expected input (N, 1, H, W), got (64, 3, "
                "28, 28)"));
  EXPECT_THAT(error_of([&] {
                conv(randn({1, 28, 28}));
              }),
              HasSubstr("expected input (N, 1, H, W), got (1, 28, 28)"));
  EXPECT_THAT(error_of([&] { conv(Tensor()); }), HasSubstr("undefined input"));
  EXPECT_THAT(error_of([&] { conv(randn({1, 1, 2, 2})); }), HasSubstr("conv2d"));  // smaller than the kernel
  EXPECT_THAT(error_of([] { nn::Conv2d(nn::Conv2dOptions(3, 8, -1)); }), HasSubstr("must be positive"));
  EXPECT_THAT(error_of([] { nn::Conv2d(nn::Conv2dOptions(-3, 8, 3)); }), HasSubstr("in=-3"));
  EXPECT_THAT(error_of([] { nn::Conv2d(nn::Conv2dOptions(3, 0, 3)); }), HasSubstr("out=0"));
  EXPECT_THAT(error_of([] { nn::Conv2d(nn::Conv2dOptions(3, 8, 3).stride(0)); }), HasSubstr("stride"));
  EXPECT_THAT(error_of([] { nn::Conv2d(nn::Conv2dOptions(3, 8, 3).padding(-1)); }), HasSubstr("padding"));
  EXPECT_THAT(error_of([] {
                nn::Conv2d(nn::Conv2dOptions(3, 8, 3).dilation({1, 0}));
              }),
              HasSubstr("dilation"));
  EXPECT_THAT(error_of([] { nn::Conv2d(nn::Conv2dOptions(3, 8, 3).groups(2)); }),
              HasSubstr("groups=2 must divide"));
  EXPECT_THAT(error_of([] { nn::Conv2d(nn::Conv2dOptions(4, 6, 3).groups(4)); }),
              HasSubstr("out_channels=6"));
}
