// layer_norm / group_norm and the LayerNorm / GroupNorm modules: outputs and gradients against
// PyTorch 1.13 golden values (tests/golden/gen_norm.py, float64), float64 gradchecks, float32
// against float64, per-sample statistics (independent of the batch and of train/eval mode),
// state-dict keys, and argument errors by message.
#include <algorithm>

#include "ops_cnn/cnn_test_util.h"

using namespace cnntest;

namespace {

Shape shape_of(const nlohmann::json& j) { return Shape(j.get<std::vector<int64_t>>()); }

}  // namespace

TEST(LayerGroupNorm, MatchesPyTorchValuesAndGradients) {
  const nlohmann::json golden = load_golden("norm_layer_group.json");
  ASSERT_EQ(golden.at("cases").size(), 7u);
  for (const auto& c : golden.at("cases")) {
    const std::string kind = c.at("kind");
    const bool affine = c.contains("weight");
    Tensor x = from_json(c.at("x"), kFloat64).set_requires_grad();
    Tensor w = affine ? from_json(c.at("weight"), kFloat64).set_requires_grad() : Tensor();
    Tensor b = affine ? from_json(c.at("bias"), kFloat64).set_requires_grad() : Tensor();
    const double eps = c.at("eps");
    const Tensor y = kind == "layer_norm" ? layer_norm(x, shape_of(c.at("arg")), w, b, eps)
                                          : group_norm(x, c.at("arg").get<int64_t>(), w, b, eps);
    const std::string what = kind + " x " + c.at("x").at("shape").dump() + " arg " + c.at("arg").dump();
    EXPECT_TRUE(matches(y, c.at("y"), 1e-10, 1e-10)) << what;
    sum(mul(y, from_json(c.at("upstream"), kFloat64))).backward();
    EXPECT_TRUE(matches(x.grad(), c.at("grad_x"), 1e-9, 1e-9)) << what;
    if (affine) {
      EXPECT_TRUE(matches(w.grad(), c.at("grad_weight"), 1e-9, 1e-9)) << what;
      EXPECT_TRUE(matches(b.grad(), c.at("grad_bias"), 1e-9, 1e-9)) << what;
    }
  }
}

TEST(LayerGroupNorm, GradcheckInFloat64) {
  const Tensor x = leaf({2, 4, 3}, 1), w = leaf({4, 3}, 2), b = leaf({4, 3}, 3);
  EXPECT_TRUE(gradcheck_ok([](const std::vector<Tensor>& in) { return layer_norm(in[0], {4, 3}, in[1], in[2]); },
                           {x, w, b}));
  const Tensor xg = leaf({2, 6, 2, 2}, 4), wg = leaf({6}, 5), bg = leaf({6}, 6);
  EXPECT_TRUE(gradcheck_ok([](const std::vector<Tensor>& in) { return group_norm(in[0], 3, in[1], in[2]); },
                           {xg, wg, bg}));
}

TEST(LayerGroupNorm, Float32MatchesFloat64) {
  const Tensor x = values({8, 16, 5, 5}, 7, kFloat64, -3, 5), w = values({16}, 8), b = values({16}, 9);
  const Tensor ref = group_norm(x, 4, w, b);
  EXPECT_TRUE(tensors_near(group_norm(x.to(kFloat32), 4, w.to(kFloat32), b.to(kFloat32)), ref, 1e-5, 1e-5));
  const Tensor xl = values({6, 33}, 10, kFloat64, -3, 5);
  EXPECT_TRUE(tensors_near(layer_norm(xl.to(kFloat32), {33}), layer_norm(xl, {33}), 1e-5, 1e-5));
}

TEST(LayerGroupNorm, ModulesUseEachSamplesOwnStatistics) {
  manual_seed(3);
  nn::GroupNorm gn(2, 4);
  nn::LayerNorm ln(nn::LayerNormOptions({4, 3}).eps(1e-6));
  EXPECT_EQ(gn.name(), "GroupNorm(2, 4, eps=1e-05, affine=true)");
  EXPECT_THAT(ln.name(), HasSubstr("LayerNorm((4, 3), eps=1e-06"));
  const auto keys = [](nn::Module& m) {
    std::vector<std::string> k;
    for (const auto& [name, t] : m.state_dict()) k.push_back(name);
    std::sort(k.begin(), k.end());
    return k;
  };
  const std::vector<std::string> expected = {"bias", "weight"};
  EXPECT_EQ(keys(gn), expected);
  EXPECT_EQ(keys(ln), expected);
  EXPECT_EQ(ln.weight().shape(), Shape({4, 3}));
  // A sample's output does not depend on the rest of the batch, nor on train/eval mode.
  const Tensor batch = values({5, 4, 3}, 11, kFloat32, -2, 2);
  const Tensor all = gn.forward(batch);
  const Tensor one = gn.forward(batch.slice(0, 2, 3));
  EXPECT_TRUE(tensors_near(one, all.slice(0, 2, 3), 1e-7, 1e-7));
  gn.eval();
  EXPECT_TRUE(tensors_near(gn.forward(batch), all, 0, 0));
  // Normalised: every (sample, group) has mean 0 and variance 1 (weight 1, bias 0 at start).
  const auto v = all.to(kFloat64).to_vector<double>();
  for (int64_t row = 0; row < 10; ++row) {  // 5 samples x 2 groups of 2 channels x 3 positions
    double m = 0, s = 0;
    for (int64_t i = 0; i < 6; ++i) m += v[row * 6 + i] / 6;
    for (int64_t i = 0; i < 6; ++i) s += (v[row * 6 + i] - m) * (v[row * 6 + i] - m) / 6;
    EXPECT_NEAR(m, 0, 1e-6);
    EXPECT_NEAR(s, 1, 1e-4);
  }
  EXPECT_EQ(ln.forward(batch).shape(), batch.shape());
}

TEST(LayerGroupNorm, ArgumentErrors) {
  const Tensor x = values({2, 3, 5}, 1);
  EXPECT_THAT(error_of([&] { layer_norm(x, {4, 5}); }),
              HasSubstr("layer_norm: normalized_shape (4, 5) must equal the last dimensions of the input, got input (2, 3, 5)"));
  EXPECT_THAT(error_of([&] { layer_norm(x, {5}, values({4}, 2)); }),
              HasSubstr("layer_norm: expected weight of shape (5) for input (2, 3, 5), got (4)"));
  EXPECT_THAT(error_of([&] { group_norm(x, 2); }), HasSubstr("group_norm: 3 channels do not split into 2 groups"));
  EXPECT_THAT(error_of([&] { group_norm(values({4}, 3), 1); }), HasSubstr("group_norm: expected input (N, C, *), got (4)"));
  EXPECT_THAT(error_of([&] { group_norm(x, 3, Tensor(), values({5}, 2)); }),
              HasSubstr("group_norm: expected bias of shape (3)"));
  EXPECT_THAT(error_of([] { nn::GroupNorm(4, 6); }), HasSubstr("GroupNorm(4, 6): 6 channels do not split into 4 groups"));
  EXPECT_THAT(error_of([] { nn::LayerNorm(nn::LayerNormOptions(Shape{})); }),
              HasSubstr("LayerNorm: normalized_shape must be non-empty"));
  EXPECT_THAT(error_of([&] { layer_norm(x, {5}, Tensor(), Tensor(), 0.0); }),
              HasSubstr("layer_norm: eps must be positive, got 0"));
  EXPECT_THAT(error_of([&] { group_norm(x, 3, Tensor(), Tensor(), -1.0); }),
              HasSubstr("group_norm: eps must be positive, got -1"));
  EXPECT_THAT(error_of([] { nn::LayerNorm(nn::LayerNormOptions({4}).eps(0)); }),
              HasSubstr("LayerNorm(4): eps must be positive, got 0"));
  EXPECT_THAT(error_of([] { nn::GroupNorm(nn::GroupNormOptions(2, 4).eps(0)); }),
              HasSubstr("GroupNorm(2, 4): eps must be positive, got 0"));
  nn::GroupNorm gn(1, 3);
  EXPECT_THAT(error_of([&] { gn.forward(values({2, 4, 5}, 4)); }),
              HasSubstr("GroupNorm(1, 3): expected input (N, 3, *), got (2, 4, 5)"));
}
