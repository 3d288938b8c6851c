// max_pool2d, avg_pool2d (count_include_pad, ceil_mode) and adaptive_avg_pool2d: forward
// against plain loops written from PyTorch's definitions, float32 (oneDNN) against float64,
// gradient routing to the argmax, float64 gradchecks, and argument errors.
#include <limits>

#include "ops_cnn/cnn_test_util.h"

using namespace cnntest;

namespace {

struct PoolCase {
  Shape x;
  Size2 k, s, p;
  bool ceil;
};

std::vector<PoolCase> cases() {
  return {
      {{2, 3, 8, 8}, 2, 2, 0, false},          {{2, 3, 7, 7}, 2, 2, 0, false},
      {{2, 3, 7, 7}, 2, 2, 0, true},           {{1, 2, 9, 8}, 3, 2, 1, false},
      {{1, 2, 9, 8}, 3, 2, 1, true},           {{2, 2, 10, 7}, {3, 2}, {2, 3}, {1, 1}, true},
      {{1, 3, 6, 6}, 3, 1, 1, false},          {{2, 4, 11, 11}, 3, 2, 0, true},
      {{1, 1, 5, 5}, 2, 3, 1, true},  // ceil mode drops the window that would start in the padding
  };
}

int64_t out_size(int64_t in, int64_t k, int64_t p, int64_t s, bool ceil) {
  const double v = static_cast<double>(in + 2 * p - k) / s;
  int64_t o = static_cast<int64_t>(ceil ? std::ceil(v) : std::floor(v)) + 1;
  if (ceil && (o - 1) * s >= in + p) --o;
  return o;
}

// mode 0: max; 1: average counting padding; 2: average over the input elements only.
std::vector<double> ref_pool(const Tensor& x, const PoolCase& c, int mode, Shape* out) {
  const auto X = x.to_vector<double>();
  const int64_t NC = x.size(0) * x.size(1), H = x.size(2), W = x.size(3);
  const int64_t OH = out_size(H, c.k.h, c.p.h, c.s.h, c.ceil), OW = out_size(W, c.k.w, c.p.w, c.s.w, c.ceil);
  *out = Shape{x.size(0), x.size(1), OH, OW};
  std::vector<double> y;
  for (int64_t i = 0; i < NC; ++i)
    for (int64_t oh = 0; oh < OH; ++oh)
      for (int64_t ow = 0; ow < OW; ++ow) {
        const int64_t h0 = oh * c.s.h - c.p.h, w0 = ow * c.s.w - c.p.w;
        // The counted window stops at the padded border (PyTorch's pool_size).
        const int64_t h1 = std::min(h0 + c.k.h, H + c.p.h), w1 = std::min(w0 + c.k.w, W + c.p.w);
        double best = -std::numeric_limits<double>::infinity(), acc = 0;
        int64_t inside = 0;
        for (int64_t h = h0; h < h1; ++h)
          for (int64_t w = w0; w < w1; ++w) {
            if (h < 0 || h >= H || w < 0 || w >= W) continue;
            const double v = X[(i * H + h) * W + w];
            best = std::max(best, v);
            acc += v;
            ++inside;
          }
        y.push_back(mode == 0 ? best : acc / (mode == 1 ? (h1 - h0) * (w1 - w0) : inside));
      }
  return y;
}

Tensor run_pool(const Tensor& x, const PoolCase& c, int mode) {
  if (mode == 0) return max_pool2d(x, c.k, c.s, c.p, c.ceil);
  return avg_pool2d(x, c.k, c.s, c.p, c.ceil, mode == 1);
}

std::vector<double> ref_adaptive(const Tensor& x, int64_t OH, int64_t OW) {
  const auto X = x.to_vector<double>();
  const int64_t NC = x.size(0) * x.size(1), H = x.size(2), W = x.size(3);
  std::vector<double> y;
  for (int64_t i = 0; i < NC; ++i)
    for (int64_t oh = 0; oh < OH; ++oh)
      for (int64_t ow = 0; ow < OW; ++ow) {
        const int64_t h0 = static_cast<int64_t>(std::floor(double(oh) * H / OH));
        const int64_t h1 = static_cast<int64_t>(std::ceil(double(oh + 1) * H / OH));
        const int64_t w0 = static_cast<int64_t>(std::floor(double(ow) * W / OW));
        const int64_t w1 = static_cast<int64_t>(std::ceil(double(ow + 1) * W / OW));
        double acc = 0;
        for (int64_t h = h0; h < h1; ++h)
          for (int64_t w = w0; w < w1; ++w) acc += X[(i * H + h) * W + w];
        y.push_back(acc / ((h1 - h0) * (w1 - w0)));
      }
  return y;
}

}  // namespace

TEST(Pool2d, ForwardMatchesLoopReference) {
  int seed = 1;
  for (const auto& c : cases()) {
    Tensor x = values(c.x, seed++, kFloat64, -2, 2);
    for (int mode = 0; mode < 3; ++mode) {
      Shape s;
      const auto ref = ref_pool(x, c, mode, &s);
      Tensor y = run_pool(x, c, mode);
      ASSERT_EQ(y.shape(), s) << "mode " << mode << " x " << c.x;
      EXPECT_TRUE(values_near(y, ref, 1e-12, 1e-12)) << "float64 mode " << mode << " x " << c.x;
      EXPECT_TRUE(values_near(run_pool(x.to(kFloat32), c, mode), ref, 1e-6, 1e-6))
          << "float32 mode " << mode << " x " << c.x;
    }
  }
}

TEST(Pool2d, OutputSizesFollowPyTorch) {
  // Values from torch.nn.functional in PyTorch 1.13.
  EXPECT_EQ(max_pool2d(zeros({1, 1, 7, 7}), 2).shape(), Shape({1, 1, 3, 3}));
  EXPECT_EQ(max_pool2d(zeros({1, 1, 7, 7}), 2, 2, 0, true).shape(), Shape({1, 1, 4, 4}));
  EXPECT_EQ(max_pool2d(zeros({1, 1, 5, 5}), 2, 3, 1, true).shape(), Shape({1, 1, 2, 2}));
  EXPECT_EQ(avg_pool2d(zeros({1, 1, 6, 6}), 3, 2, 1, true).shape(), Shape({1, 1, 4, 4}));
  EXPECT_EQ(max_pool2d(zeros({1, 1, 112, 112}), 3, 2, 1).shape(), Shape({1, 1, 56, 56}));
}

TEST(Pool2d, AvgCountIncludePadDivisors) {
  // A 3x3 plane of ones, kernel 3, stride 1, padding 1: corners see 4 of 9 elements.
  Tensor x = ones({1, 1, 3, 3});
  EXPECT_TRUE(values_near(avg_pool2d(x, 3, 1, 1, false, true),
                          {4 / 9., 6 / 9., 4 / 9., 6 / 9., 1, 6 / 9., 4 / 9., 6 / 9., 4 / 9.}, 1e-6, 0));
  EXPECT_TRUE(values_near(avg_pool2d(x, 3, 1, 1, false, false), std::vector<double>(9, 1.0), 1e-6, 0));
  // Ceil mode: the overhang past the padded border is not counted (the last window of a width-4
  // row with kernel 3, stride 2, padding 1 covers input column 3 and one padding column).
  Tensor r = ones({1, 1, 1, 4});
  EXPECT_TRUE(values_near(avg_pool2d(r, {1, 3}, Size2{1, 2}, {0, 1}, true, true), {2 / 3., 1, 0.5}, 1e-6, 0));
}

TEST(Pool2d, MaxBackwardRoutesToArgmax) {
  // Distinct values with a known maximum in each 2x2 window.
  Tensor x = from_vector<float>({1, 5, 2, 0,  //
                                 3, 4, 8, 7,  //
                                 9, 0, 1, 1,  //
                                 0, 2, 3, 6},
                                {1, 1, 4, 4})
                 .set_requires_grad();
  Tensor y = max_pool2d(x, 2);
  EXPECT_TRUE(values_near(y, {5, 8, 9, 6}, 0, 0));
  sum(y * from_vector<float>({1, 2, 3, 4}, {1, 1, 2, 2})).backward();
  EXPECT_TRUE(values_near(x.grad(), {0, 1, 0, 0, 0, 0, 2, 0, 3, 0, 0, 0, 0, 0, 0, 4}, 0, 0));
  // Overlapping windows accumulate into a shared maximum.
  Tensor z = from_vector<double>({0, 0, 0, 0, 9, 0, 0, 0, 0}, {1, 1, 3, 3}).set_requires_grad();
  sum(max_pool2d(z, 2, 1)).backward();
  EXPECT_TRUE(values_near(z.grad(), {0, 0, 0, 0, 4, 0, 0, 0, 0}, 0, 0));
}

TEST(Pool2d, GradcheckFloat64) {
  for (const auto& c : cases()) {
    Tensor x = leaf(c.x, 7);
    for (int mode = 0; mode < 3; ++mode)
      EXPECT_TRUE(gradcheck_ok([&](const std::vector<Tensor>& in) { return run_pool(in[0], c, mode); }, {x}))
          << "mode " << mode << " x " << c.x;
  }
}

TEST(Pool2d, Float32GradientsMatchFloat64) {
  for (const auto& c : cases()) {
    for (int mode = 0; mode < 3; ++mode) {
      Tensor x = leaf(c.x, 8), x32 = x.detach().to(kFloat32).set_requires_grad();
      Tensor y = run_pool(x, c, mode);
      Tensor coef = values(y.shape(), 9);
      sum(y * coef).backward();
      sum(run_pool(x32, c, mode) * coef.to(kFloat32)).backward();
      EXPECT_TRUE(tensors_near(x32.grad(), x.grad(), 1e-6, 1e-5)) << "mode " << mode << " x " << c.x;
    }
  }
}

TEST(AdaptiveAvgPool2d, MatchesReferenceIncludingNonDivisibleSizes) {
  Tensor x = values({2, 3, 7, 5}, 3);
  for (auto [oh, ow] : std::vector<std::pair<int64_t, int64_t>>{{1, 1}, {3, 2}, {7, 5}, {4, 4}, {2, 5}, {10, 3}}) {
    const auto ref = ref_adaptive(x, oh, ow);
    Tensor y = adaptive_avg_pool2d(x, {oh, ow});
    ASSERT_EQ(y.shape(), Shape({2, 3, oh, ow}));
    EXPECT_TRUE(values_near(y, ref, 1e-12, 1e-12)) << oh << "x" << ow;
    EXPECT_TRUE(values_near(adaptive_avg_pool2d(x.to(kFloat32), {oh, ow}), ref, 1e-6, 1e-6)) << oh << "x" << ow;
    Tensor l = leaf({1, 2, 7, 5}, 4);
    EXPECT_TRUE(gradcheck_ok([&](const std::vector<Tensor>& in) { return adaptive_avg_pool2d(in[0], {oh, ow}); }, {l}))
        << oh << "x" << ow;
  }
  // Global pooling is the plane mean.
  Tensor g = adaptive_avg_pool2d(x, 1);
  EXPECT_TRUE(tensors_near(g, mean(x, {2, 3}, true), 1e-12, 1e-12));
}

TEST(Pool2d, ErrorsNameOpAndShapes) {
  EXPECT_THAT(error_of([] { max_pool2d(zeros({3, 8, 8}), 2); }),
              HasSubstr("max_pool2d: expected input (N, C, H, W), got (3, 8, 8)"));
  EXPECT_THAT(error_of([] { max_pool2d(zeros({1, 1, 8, 8}), 0); }),
              HasSubstr("max_pool2d: kernel size must be positive, got (0, 0)"));
  EXPECT_THAT(error_of([] { avg_pool2d(zeros({1, 1, 8, 8}), 2, Size2{0, 1}); }),
              HasSubstr("avg_pool2d: stride must be positive, got (0, 1)"));
  EXPECT_THAT(error_of([] { max_pool2d(zeros({1, 1, 8, 8}), 2, 2, 2); }),
              HasSubstr("max_pool2d: padding (2, 2) must be non-negative and at most half the kernel (2, 2)"));
  EXPECT_THAT(error_of([] { max_pool2d(zeros({1, 1, 2, 2}), 3); }),
              HasSubstr("max_pool2d: kernel (3, 3) with padding (0, 0) is larger than the input (1, 1, 2, 2)"));
  EXPECT_THAT(error_of([] { adaptive_avg_pool2d(zeros({1, 1, 4, 4}), {0, 2}); }),
              HasSubstr("adaptive_avg_pool2d: output size must be positive, got (0, 2)"));
  EXPECT_THAT(error_of([] { max_pool2d(zeros({1, 1, 4, 4}, kInt64), 2); }),
              HasSubstr("max_pool2d: expected a float32 or float64 tensor"));
}
