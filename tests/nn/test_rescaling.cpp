// nn::Rescaling: y = x * scale + offset per feature (dimension 1) for (N, K) and (N, K, H, W); the
// gradient into x is the scale (finite differences); scale and offset are buffers (saved, moved
// and converted with the module, no gradients); bad arguments and inputs are one clear error.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/error_of.h"
#include "magmadnn/magmadnn.h"

using namespace magmadnn;
using magmadnn::testing::error_of;
using ::testing::HasSubstr;

TEST(Rescaling, ScalesAndShiftsEachFeature) {
  nn::Rescaling r({2.0, -0.5, 10.0}, {1.0, 0.0, 100.0});
  const Tensor x = from_vector<float>({1, 2, 3, -1, 0, 0.5f}, {2, 3});
  EXPECT_EQ(r(x).to_vector<float>(), (std::vector<float>{3, -1, 130, -1, 0, 105}));
  const Tensor x4 = from_vector<double>({1, 2, 3, 4, 5, 6}, {1, 3, 2, 1});  // (N, K, H, W): per channel
  EXPECT_EQ(r(x4).to_vector<double>(), (std::vector<double>{3, 5, -1.5, -2, 150, 160}));
  EXPECT_EQ(r(x4).dtype(), kFloat64);
}

TEST(Rescaling, GradientIsTheScale) {
  nn::Rescaling r({2.0, -0.5}, {1.0, 3.0});
  r.to(kFloat64);
  Tensor x = from_vector<double>({0.3, -0.7, 1.1, 0.2}, {2, 2}).requires_grad_(true);
  const Tensor w = from_vector<double>({1.5, -2.0, 0.25, 0.75}, {2, 2});
  sum(mul(r(x), w)).backward();
  const std::vector<double> g = x.grad().to_vector<double>();
  const std::vector<double> xs = x.detach().to_vector<double>();
  for (size_t i = 0; i < xs.size(); ++i) {  // central differences of sum(r(x) * w)
    const double h = 1e-6;
    std::vector<double> up = xs, down = xs;
    up[i] += h, down[i] -= h;
    const double fu = sum(mul(r(from_vector<double>(up, {2, 2})), w)).item<double>();
    const double fd = sum(mul(r(from_vector<double>(down, {2, 2})), w)).item<double>();
    EXPECT_NEAR(g[i], (fu - fd) / (2 * h), 1e-8) << i;
  }
  EXPECT_TRUE(r.parameters().empty());
}

TEST(Rescaling, BuffersAreSavedAndLoaded) {
  nn::Rescaling r({2.0, 3.0}, {-1.0, 4.0});
  const auto state = r.state_dict();
  ASSERT_EQ(state.count("scale"), 1u);
  ASSERT_EQ(state.count("offset"), 1u);
  nn::Rescaling other({1.0, 1.0}, {0.0, 0.0});
  other.load_state_dict(state);
  EXPECT_EQ(other(ones({1, 2})).to_vector<float>(), (std::vector<float>{1, 7}));
}

TEST(Rescaling, ErrorsNameTheProblem) {
  EXPECT_THAT(error_of([] { nn::Rescaling({1.0}, {0.0, 1.0}); }),
              HasSubstr("Rescaling: expected scale and offset of one length K >= 1, got 1 and 2"));
  EXPECT_THAT(error_of([] { nn::Rescaling({std::nan("")}, {0.0}); }), HasSubstr("scale[0] = nan"));
  nn::Rescaling r({1.0, 2.0}, {0.0, 0.0});
  EXPECT_THAT(error_of([&] { r(ones({4, 3})); }), HasSubstr("Rescaling(2): expected input (N, 2, *), got (4, 3)"));
}
