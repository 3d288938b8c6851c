// Pooling modules: forward against the ops and a plain loop reference, output sizes over many
// option combinations (PyTorch's floor/ceil rules), float64 gradients, names and errors.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <limits>

#include "nn_cnn/nn_cnn_test_util.h"

using namespace magmadnn;
using nn_cnn_test::error_of;
using nn_cnn_test::max_abs_diff;
using ::testing::HasSubstr;

namespace {
// PyTorch's pooling output size, including the rule that the last window must start inside the
// input or the left padding when ceil_mode rounds up.
int64_t pooled(int64_t in, int64_t k, int64_t s, int64_t p, bool ceil_mode) {
  const int64_t span = in + 2 * p - k;
  int64_t out = (ceil_mode ? (span + s - 1) / s : span / s) + 1;
  if (ceil_mode && (out - 1) * s >= in + p) --out;
  return out;
}

// Max or average over each window; padding never wins a max and counts for the average only
// when count_include_pad (and then only inside the padded extent, as PyTorch).
std::vector<double> reference_pool(const Tensor& x, bool is_max, const nn::Pool2dOptions& o, int64_t oh,
                                   int64_t ow) {
  const auto v = x.to(kFloat64).to_vector<double>();
  const int64_t nc = x.size(0) * x.size(1), h = x.size(2), w = x.size(3);
  const Size2 k = o.kernel_size(), s = o.stride().value_or(k), p = o.padding();
  std::vector<double> out(nc * oh * ow);
  for (int64_t c = 0; c < nc; ++c)
    for (int64_t i = 0; i < oh; ++i)
      for (int64_t j = 0; j < ow; ++j) {
        const int64_t y0 = i * s.h - p.h, x0 = j * s.w - p.w;
        const int64_t y1 = std::min(y0 + k.h, h + p.h), x1 = std::min(x0 + k.w, w + p.w);
        const int64_t padded_count = (y1 - y0) * (x1 - x0);
        double best = -std::numeric_limits<double>::infinity(), total = 0;
        int64_t count = 0;
        for (int64_t y = std::max<int64_t>(y0, 0); y < std::min(y1, h); ++y)
          for (int64_t xx = std::max<int64_t>(x0, 0); xx < std::min(x1, w); ++xx) {
            const double e = v[(c * h + y) * w + xx];
            best = std::max(best, e);
            total += e;
            ++count;
          }
        out[(c * oh + i) * ow + j] = is_max ? best : total / (o.count_include_pad() ? padded_count : count);
      }
  return out;
}
}  // namespace

TEST(PoolingModules, OutputSizesAndValuesOverOptionCombinations) {
  manual_seed(20);
  struct Case {
    Size2 kernel;
    std::optional<Size2> stride;
    Size2 padding;
    bool ceil_mode, count_include_pad;
    Shape input;
  };
  const std::vector<Case> cases = {
      {2, std::nullopt, 0, false, true, {2, 3, 7, 7}},
      {2, std::nullopt, 0, true, true, {2, 3, 7, 7}},
      {3, 2, 1, false, true, {2, 3, 8, 8}},
      {3, 2, 1, false, false, {2, 3, 8, 8}},
      {3, 2, 1, true, false, {1, 2, 6, 9}},
      {3, 2, 1, true, true, {1, 2, 6, 9}},
      {{2, 3}, {{1, 2}}, {1, 1}, false, true, {1, 2, 5, 7}},
      {4, 3, 2, true, false, {1, 1, 10, 10}},
      {3, 3, 0, true, true, {1, 2, 8, 8}},
      {1, 2, 0, false, true, {1, 1, 5, 5}},
  };
  for (const auto& c : cases) {
    nn::Pool2dOptions o(c.kernel);
    if (c.stride) o.stride(*c.stride);
    o.padding(c.padding).ceil_mode(c.ceil_mode).count_include_pad(c.count_include_pad);
    Tensor x = randn(c.input);
    const Size2 s = c.stride.value_or(c.kernel);
    const int64_t oh = pooled(c.input[2], c.kernel.h, s.h, c.padding.h, c.ceil_mode);
    const int64_t ow = pooled(c.input[3], c.kernel.w, s.w, c.padding.w, c.ceil_mode);
    const Shape expected{c.input[0], c.input[1], oh, ow};
    nn::MaxPool2d max_pool(o);
    nn::AvgPool2d avg_pool(o);
    SCOPED_TRACE(avg_pool.name());
    Tensor ym = max_pool(x), ya = avg_pool(x);
    ASSERT_EQ(ym.shape(), expected);
    ASSERT_EQ(ya.shape(), expected);
    EXPECT_LT(max_abs_diff(ym, max_pool2d(x, c.kernel, c.stride, c.padding, c.ceil_mode)), 1e-7);
    EXPECT_LT(
        max_abs_diff(ya, avg_pool2d(x, c.kernel, c.stride, c.padding, c.ceil_mode, c.count_include_pad)),
        1e-7);
    EXPECT_LT(max_abs_diff(ym, from_vector<double>(reference_pool(x, true, o, oh, ow), expected)), 1e-6);
    EXPECT_LT(max_abs_diff(ya, from_vector<double>(reference_pool(x, false, o, oh, ow), expected)), 1e-6);
  }
}

TEST(PoolingModules, AdaptiveAveragePoolWindows) {
  manual_seed(21);
  Tensor x = randn({2, 3, 7, 5});
  EXPECT_EQ(nn::AdaptiveAvgPool2d(1)(x).shape(), Shape({2, 3, 1, 1}));
  EXPECT_LT(max_abs_diff(nn::AdaptiveAvgPool2d(1)(x).flatten(1), mean(x, {2, 3})), 1e-6);
  // Output (3, 2) on 7x5: rows [0,3) [2,5) [4,7), columns [0,3) [2,5).
  Tensor y = nn::AdaptiveAvgPool2d({3, 2})(x);
  ASSERT_EQ(y.shape(), Shape({2, 3, 3, 2}));
  const auto v = x.to_vector<double>(), out = y.to_vector<double>();
  const int rows[3][2] = {{0, 3}, {2, 5}, {4, 7}}, cols[2][2] = {{0, 3}, {2, 5}};
  for (int c = 0; c < 6; ++c)
    for (int i = 0; i < 3; ++i)
      for (int j = 0; j < 2; ++j) {
        double s = 0;
        for (int r = rows[i][0]; r < rows[i][1]; ++r)
          for (int q = cols[j][0]; q < cols[j][1]; ++q) s += v[(c * 7 + r) * 5 + q];
        EXPECT_NEAR(out[(c * 3 + i) * 2 + j], s / 9.0, 1e-5);
      }
  EXPECT_LT(max_abs_diff(nn::AdaptiveAvgPool2d({7, 5})(x), x), 1e-7);  // the identity size
}

TEST(PoolingModules, Float64Gradcheck) {
  manual_seed(22);
  // Distinct values keep the max's argmax away from ties under the finite-difference step.
  Tensor x = add(mul(randperm(2 * 2 * 6 * 7, kFloat64).reshape({2, 2, 6, 7}), 0.01), 0.0).set_requires_grad();
  std::vector<std::shared_ptr<nn::Module>> pools = {
      std::make_shared<nn::MaxPool2d>(nn::MaxPool2dOptions(3).stride(2).padding(1).ceil_mode(true)),
      std::make_shared<nn::AvgPool2d>(nn::AvgPool2dOptions(3).stride(2).padding(1).count_include_pad(false)),
      std::make_shared<nn::AvgPool2d>(nn::AvgPool2dOptions({2, 3}).ceil_mode(true)),
      std::make_shared<nn::AdaptiveAvgPool2d>(Size2{4, 3}),
  };
  for (auto& pool : pools) {
    SCOPED_TRACE(pool->name());
    auto r = autograd::gradcheck([&](const std::vector<Tensor>& in) { return (*pool)(in[0]); }, {x});
    EXPECT_TRUE(r.ok) << r.message;
  }
}

TEST(PoolingModules, NamesAndNoParameters) {
  EXPECT_EQ(nn::MaxPool2d(2).name(), "MaxPool2d(kernel_size=(2, 2), stride=(2, 2), padding=(0, 0))");
  EXPECT_EQ(nn::MaxPool2d(nn::MaxPool2dOptions(3).stride(2).padding(1).ceil_mode(true)).name(),
            "MaxPool2d(kernel_size=(3, 3), stride=(2, 2), padding=(1, 1), ceil_mode=true)");
  EXPECT_EQ(nn::AvgPool2d(nn::AvgPool2dOptions(3).count_include_pad(false)).name(),
            "AvgPool2d(kernel_size=(3, 3), stride=(3, 3), padding=(0, 0), count_include_pad=false)");
  EXPECT_EQ(nn::AdaptiveAvgPool2d(1).name(), "AdaptiveAvgPool2d(output_size=(1, 1))");
  EXPECT_TRUE(nn::MaxPool2d(2).state_dict().empty());
}

TEST(PoolingModules, ErrorsNameTheLayerAndShapes) {
  EXPECT_THAT(
      error_of([] {
        nn::MaxPool2d(2)(randn({3, 7, 7}));
      }),
      HasSubstr("MaxPool2d(kernel_size=(2, 2), stride=(2, 2), padding=(0, 0)): expected input (N, C, H, W), "
                "got (3, 7, 7)"));
  EXPECT_THAT(error_of([] { nn::AvgPool2d(2)(Tensor()); }), HasSubstr("undefined"));
  EXPECT_THAT(error_of([] {
                nn::AdaptiveAvgPool2d(1)(randn({2, 3}));
              }),
              HasSubstr("AdaptiveAvgPool2d(output_size=(1, 1)): expected input (N, C, H, W), got (2, 3)"));
  EXPECT_THAT(error_of([] { nn::MaxPool2d(-2); }),
              HasSubstr("MaxPool2d: kernel_size and stride must be positive"));
  EXPECT_THAT(error_of([] { nn::AvgPool2d(nn::AvgPool2dOptions(2).stride(0)); }),
              HasSubstr("AvgPool2d: kernel_size and stride must be positive"));
  EXPECT_THAT(error_of([] { nn::MaxPool2d(nn::MaxPool2dOptions(3).padding(-1)); }),
              HasSubstr("padding must be between 0 and half the kernel size"));
  EXPECT_THAT(error_of([] { nn::MaxPool2d(nn::MaxPool2dOptions(2).padding(2)); }),
              HasSubstr("padding=(2, 2)"));
  EXPECT_THAT(error_of([] {
                nn::AdaptiveAvgPool2d({0, 2});
              }),
              HasSubstr("AdaptiveAvgPool2d: output_size must be positive"));
  EXPECT_THAT(error_of([] {
                nn::MaxPool2d(5)(randn({1, 1, 3, 3}));
              }),
              HasSubstr("pool"));  // window larger than input
}
