// conv2d and pad_circular: forward against a plain loop reference (strides, paddings,
// dilations, groups; float32 through oneDNN and float64 loops), circular padding on a periodic
// 8x8 lattice against hand-wrapped indexing, float64 gradchecks, float32 gradients against
// float64, and argument errors by message.
#include "ops_cnn/cnn_test_util.h"

using namespace cnntest;

namespace {

// y[n][o][i][j] = b[o] + sum_{c,a,e} w[o][c][a][e] * x[n][g*Cg + c][i*s - p + a*d][j*s - p + e*d]; when
// `wrap`, input indices wrap around (circular padding) instead of reading zeros.
std::vector<double> ref_conv(const Tensor& x, const Tensor& w, const Tensor& b, const Conv2dArgs& a, Shape* out,
                             bool wrap = false) {
  const auto X = x.to_vector<double>(), Wt = w.to_vector<double>();
  const std::vector<double> B = b.defined() ? b.to_vector<double>() : std::vector<double>();
  const int64_t N = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3);
  const int64_t O = w.size(0), Cg = w.size(1), KH = w.size(2), KW = w.size(3), Og = O / a.groups;
  const int64_t OH = (H + 2 * a.padding.h - a.dilation.h * (KH - 1) - 1) / a.stride.h + 1;
  const int64_t OW = (W + 2 * a.padding.w - a.dilation.w * (KW - 1) - 1) / a.stride.w + 1;
  *out = Shape{N, O, OH, OW};
  std::vector<double> y(N * O * OH * OW);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t o = 0; o < O; ++o)
      for (int64_t i = 0; i < OH; ++i)
        for (int64_t j = 0; j < OW; ++j) {
          double acc = B.empty() ? 0.0 : B[o];
          for (int64_t c = 0; c < Cg; ++c)
            for (int64_t u = 0; u < KH; ++u)
              for (int64_t v = 0; v < KW; ++v) {
                int64_t ih = i * a.stride.h - a.padding.h + u * a.dilation.h;
                int64_t iw = j * a.stride.w - a.padding.w + v * a.dilation.w;
                if (wrap) {
                  ih = (ih % H + H) % H;
                  iw = (iw % W + W) % W;
                }
                if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                const int64_t ci = (o / Og) * Cg + c;
                acc += X[((n * C + ci) * H + ih) * W + iw] * Wt[((o * Cg + c) * KH + u) * KW + v];
              }
          y[((n * O + o) * OH + i) * OW + j] = acc;
        }
  return y;
}

Conv2dArgs args(Size2 stride, Size2 padding, Size2 dilation = 1, int64_t groups = 1,
                PaddingMode mode = PaddingMode::Zeros) {
  Conv2dArgs a;
  a.stride = stride;
  a.padding = padding;
  a.dilation = dilation;
  a.groups = groups;
  a.padding_mode = mode;
  return a;
}

struct ConvCase {
  Shape x, w;
  bool bias;
  Conv2dArgs a;
};

std::vector<ConvCase> cases() {
  return {
      {{2, 3, 7, 6}, {4, 3, 3, 3}, true, args(1, 1)},
      {{2, 3, 9, 8}, {5, 3, 2, 3}, false, args(2, {0, 1})},
      {{1, 2, 9, 9}, {3, 2, 3, 3}, true, args(1, 2, 2)},
      {{2, 3, 8, 7}, {4, 3, 3, 2}, true, args({2, 1}, {1, 0}, {1, 2})},
      {{2, 4, 6, 6}, {6, 2, 3, 3}, true, args(1, 1, 1, 2)},
      {{1, 4, 5, 5}, {4, 1, 3, 3}, false, args(2, 1, 1, 4)},     // depthwise
      {{3, 1, 12, 12}, {8, 1, 5, 5}, true, args(1, 0)},         // LeNet-like first layer
      {{2, 16, 6, 6}, {32, 16, 1, 1}, false, args(2, 0)},       // ResNet downsample shortcut
      {{2, 16, 8, 8}, {16, 16, 3, 3}, true, args(1, 1)},        // blocked layouts in oneDNN
      {{2, 32, 9, 9}, {48, 32, 3, 3}, true, args(1, 1)},        // Winograd in oneDNN
      {{2, 32, 6, 6}, {32, 32, 3, 3}, false, args(1, 0)},       // Winograd, no padding
  };
}

}  // namespace

TEST(Conv2d, ForwardMatchesLoopReference) {
  int seed = 1;
  for (const auto& c : cases()) {
    Tensor x = values(c.x, seed++), w = values(c.w, seed++);
    Tensor b = c.bias ? values({c.w[0]}, seed++) : Tensor();
    Shape s;
    const auto ref = ref_conv(x, w, b, c.a, &s);
    Tensor y64 = conv2d(x, w, b, c.a);
    EXPECT_EQ(y64.shape(), s);
    EXPECT_TRUE(values_near(y64, ref, 1e-12, 1e-12)) << "float64, x " << c.x << " w " << c.w;
    // Direct convolution rounds like a float32 dot product; Winograd (3x3, >= 32 channels) within
    // ~1e-6 of the output magnitude.
    for (bool winograd : {false, true}) {
      set_conv_winograd(winograd);
      Tensor y32 = conv2d(x.to(kFloat32), w.to(kFloat32), c.bias ? b.to(kFloat32) : Tensor(), c.a);
      EXPECT_EQ(y32.dtype(), kFloat32);
      const double atol = winograd ? 5e-5 : 1e-5;
      EXPECT_TRUE(values_near(y32, ref, atol, 1e-5)) << "float32, x " << c.x << " w " << c.w << " winograd " << winograd;
    }
    set_conv_winograd(true);
  }
}

TEST(Conv2d, CircularPaddingWrapsAroundPeriodicLattice) {
  // An 8x8 lattice with periodic boundaries, as in the Ising application.
  Tensor x = values({2, 2, 8, 8}, 11), w = values({3, 2, 3, 3}, 12), b = values({3}, 13);
  for (const auto& a : {args(1, 1, 1, 1, PaddingMode::Circular), args(2, {2, 1}, 1, 1, PaddingMode::Circular),
                        args(1, 2, 2, 1, PaddingMode::Circular)}) {
    Shape s;
    const auto ref = ref_conv(x, w, b, a, &s, /*wrap=*/true);
    Tensor y = conv2d(x, w, b, a);
    EXPECT_EQ(y.shape(), s);
    EXPECT_TRUE(values_near(y, ref, 1e-12, 1e-12));
    EXPECT_TRUE(values_near(conv2d(x.to(kFloat32), w.to(kFloat32), b.to(kFloat32), a), ref, 1e-5, 1e-5));
  }
  // pad_circular itself: element (i, j) of the padded plane is x[(i - 1) mod 8][(j - 2) mod 8].
  Tensor p = pad_circular(x, 1, 2);
  ASSERT_EQ(p.shape(), Shape({2, 2, 10, 12}));
  const auto xv = x.to_vector<double>(), pv = p.to_vector<double>();
  for (int64_t i = 0; i < 10; ++i)
    for (int64_t j = 0; j < 12; ++j)
      EXPECT_EQ(pv[(1 * 10 + i) * 12 + j], xv[(1 * 8 + (i + 7) % 8) * 8 + (j + 6) % 8]) << i << "," << j;
}

TEST(Conv2d, GradcheckFloat64) {
  for (const auto& c : cases()) {
    if (c.x.numel() * c.w[0] > 3000) continue;  // keep finite differences cheap
    Tensor x = leaf(c.x, 21), w = leaf(c.w, 22);
    if (c.bias) {
      Tensor b = leaf({c.w[0]}, 23);
      EXPECT_TRUE(gradcheck_ok([&](const std::vector<Tensor>& in) { return conv2d(in[0], in[1], in[2], c.a); },
                               {x, w, b}))
          << "x " << c.x << " w " << c.w;
    } else {
      EXPECT_TRUE(gradcheck_ok([&](const std::vector<Tensor>& in) { return conv2d(in[0], in[1], Tensor(), c.a); },
                               {x, w}))
          << "x " << c.x << " w " << c.w;
    }
  }
}

TEST(Conv2d, GradcheckCircularPadding) {
  Tensor x = leaf({1, 2, 5, 4}, 31), w = leaf({2, 2, 3, 3}, 32), b = leaf({2}, 33);
  for (const auto& a : {args(1, 1, 1, 1, PaddingMode::Circular), args(2, {2, 1}, 1, 1, PaddingMode::Circular)}) {
    EXPECT_TRUE(gradcheck_ok([&](const std::vector<Tensor>& in) { return conv2d(in[0], in[1], in[2], a); }, {x, w, b}));
  }
  EXPECT_TRUE(gradcheck_ok([](const std::vector<Tensor>& in) { return pad_circular(in[0], 2, 3); }, {x}));
}

TEST(Conv2d, Float32GradientsMatchFloat64) {
  for (const auto& c : cases()) {
    Tensor x = leaf(c.x, 41), w = leaf(c.w, 42), b = c.bias ? leaf({c.w[0]}, 43) : Tensor();
    Tensor x32 = x.detach().to(kFloat32).set_requires_grad(), w32 = w.detach().to(kFloat32).set_requires_grad();
    Tensor b32 = c.bias ? b.detach().to(kFloat32).set_requires_grad() : Tensor();
    Tensor y = conv2d(x, w, b, c.a);
    Tensor coef = values(y.shape(), 46);  // weights the outputs so every gradient element differs
    sum(y * coef).backward();
    sum(conv2d(x32, w32, b32, c.a) * coef.to(kFloat32)).backward();
    EXPECT_TRUE(tensors_near(x32.grad(), x.grad(), 1e-4, 1e-4)) << "grad x, x " << c.x << " w " << c.w;
    EXPECT_TRUE(tensors_near(w32.grad(), w.grad(), 1e-4, 1e-4)) << "grad w, x " << c.x << " w " << c.w;
    if (c.bias) EXPECT_TRUE(tensors_near(b32.grad(), b.grad(), 1e-4, 1e-4)) << "grad b, x " << c.x;
  }
}

TEST(Conv2d, ErrorsNameOpAndShapes) {
  Tensor w = zeros({16, 3, 3, 3});
  EXPECT_THAT(error_of([&] { conv2d(zeros({8, 1, 28, 28}), w); }),
              HasSubstr("conv2d: expected input with 3 channels (weight (16, 3, 3, 3), groups 1), got (8, 1, 28, 28)"));
  EXPECT_THAT(error_of([&] { conv2d(zeros({1, 3, 2, 2}), w); }),
              HasSubstr("conv2d: kernel (3, 3) with dilation (1, 1) is larger than the padded input (2, 2)"));
  EXPECT_THAT(error_of([&] { conv2d(zeros({1, 3, 8, 8}), w, Tensor(), args(0, 1)); }),
              HasSubstr("conv2d: stride must be positive, got (0, 0)"));
  EXPECT_THAT(error_of([&] { conv2d(zeros({1, 3, 8, 8}), w, Tensor(), args(1, 1, {1, -1})); }),
              HasSubstr("conv2d: dilation must be positive, got (1, -1)"));
  EXPECT_THAT(error_of([&] { conv2d(zeros({1, 3, 8, 8}), w, Tensor(), args(1, {-1, 0})); }),
              HasSubstr("conv2d: padding must be non-negative, got (-1, 0)"));
  EXPECT_THAT(error_of([&] { conv2d(zeros({1, 6, 8, 8}), zeros({5, 3, 3, 3}), Tensor(), args(1, 0, 1, 2)); }),
              HasSubstr("conv2d: groups (2) must divide out_channels (weight (5, 3, 3, 3))"));
  EXPECT_THAT(error_of([&] { conv2d(zeros({1, 3, 8, 8}), w, zeros({15})); }),
              HasSubstr("conv2d: expected bias (16) for weight (16, 3, 3, 3), got (15)"));
  EXPECT_THAT(error_of([&] { conv2d(zeros({3, 8, 8}), w); }),
              HasSubstr("conv2d: expected input (N, C, H, W), got (3, 8, 8)"));
  EXPECT_THAT(error_of([&] { conv2d(zeros({1, 3, 8, 8}), zeros({16, 3, 3, 3}, kFloat64)); }),
              HasSubstr("conv2d: dtypes differ"));
  EXPECT_THAT(error_of([&] { conv2d(zeros({1, 3, 2, 2}), w, Tensor(), args(1, 3, 1, 1, PaddingMode::Circular)); }),
              HasSubstr("conv2d: circular padding (3, 3) must not exceed the input's spatial size, got input (1, 3, 2, 2)"));
}
