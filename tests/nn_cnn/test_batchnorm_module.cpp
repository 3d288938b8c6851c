// BatchNorm1d / BatchNorm2d modules: several training steps against PyTorch (outputs, running
// statistics, num_batches_tracked, gradients) and against a hand computation, eval mode with the
// running statistics, the options, float64 gradients, state-dict names and errors.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "nn_cnn/golden_state.h"
#include "nn_cnn/nn_cnn_test_util.h"

using namespace magmadnn;
using nn_cnn_test::error_of;
using nn_cnn_test::max_abs_diff;
using ::testing::HasSubstr;

namespace {
Tensor tensor_from(const nlohmann::json& j) {
  return golden::tensor_of(j["data"], golden::shape_of(j["shape"]), kFloat64);
}

std::shared_ptr<nn::BatchNormBase> make_bn(const nlohmann::json& c) {
  auto o = nn::BatchNormOptions(c["num_features"].get<int64_t>())
               .eps(c["eps"].get<double>())
               .momentum(c["momentum"].get<double>())
               .affine(c["affine"].get<bool>())
               .track_running_stats(c["track_running_stats"].get<bool>());
  if (c["kind"] == "BatchNorm2d") return std::make_shared<nn::BatchNorm2d>(o);
  return std::make_shared<nn::BatchNorm1d>(o);
}
}  // namespace

TEST(BatchNormModule, TrainingStepsAndEvalMatchPyTorch) {
  const auto fixture = golden::load("nn_cnn_modules.json");
  for (const auto& c : fixture["batchnorm"]) {
    SCOPED_TRACE(c["name"].get<std::string>());
    auto bn = make_bn(c);
    bn->to(kFloat64);
    nn_cnn_test::load_golden_state(*bn, c["state"]);
    bn->train();
    for (const auto& step : c["steps"]) {
      bn->zero_grad();
      Tensor x = tensor_from(step["x"]).set_requires_grad();
      Tensor y = (*bn)(x);
      EXPECT_TRUE(golden::close_to(y, step["y"]["data"], 1e-9, 1e-10));
      sum(mul(y, tensor_from(step["coef"]))).backward();
      EXPECT_TRUE(golden::close_to(x.grad(), step["grad_x"]["data"], 1e-8, 1e-10));
      if (c["affine"].get<bool>()) {
        EXPECT_TRUE(golden::close_to(bn->weight().grad(), step["grad_weight"]["data"], 1e-8, 1e-10));
        EXPECT_TRUE(golden::close_to(bn->bias().grad(), step["grad_bias"]["data"], 1e-8, 1e-10));
      }
      if (c["track_running_stats"].get<bool>()) {
        EXPECT_TRUE(golden::close_to(bn->running_mean(), step["running_mean"]["data"], 1e-10, 1e-12));
        EXPECT_TRUE(golden::close_to(bn->running_var(), step["running_var"]["data"], 1e-10, 1e-12));
        EXPECT_EQ(bn->state_dict().at("num_batches_tracked").item<int64_t>(),
                  step["num_batches_tracked"].get<int64_t>());
      }
    }
    bn->eval();
    EXPECT_TRUE(golden::close_to((*bn)(tensor_from(c["eval_x"])), c["eval_y"]["data"], 1e-9, 1e-10));
  }
}

TEST(BatchNormModule, RunningStatisticsByHandAndEvalUsesThem) {
  manual_seed(30);
  nn::BatchNorm2d bn(nn::BatchNormOptions(2).momentum(0.5));
  Tensor x1 = randn({4, 2, 3, 3}), x2 = add(mul(randn({4, 2, 3, 3}), 2.0), 1.0);
  bn(x1);
  bn(x2);
  // running = (1 - m) * running + m * batch, with the unbiased batch variance (PyTorch's rule).
  auto stats = [](const Tensor& x, int c) {
    const auto v = x.to_vector<double>();
    double s = 0, s2 = 0;
    for (int i = 0; i < 4; ++i)
      for (int k = 0; k < 9; ++k) {
        const double e = v[(i * 2 + c) * 9 + k];
        s += e;
        s2 += e * e;
      }
    const double mean = s / 36;
    return std::make_pair(mean, (s2 - 36 * mean * mean) / 35);
  };
  std::vector<double> mean(2), var(2);
  for (int c = 0; c < 2; ++c) {
    const auto [m1, v1] = stats(x1, c);
    const auto [m2, v2] = stats(x2, c);
    mean[c] = 0.5 * (0.5 * 0.0 + 0.5 * m1) + 0.5 * m2;
    var[c] = 0.5 * (0.5 * 1.0 + 0.5 * v1) + 0.5 * v2;
    EXPECT_NEAR(bn.running_mean().to_vector<double>()[c], mean[c], 1e-5);
    EXPECT_NEAR(bn.running_var().to_vector<double>()[c], var[c], 1e-4);
  }
  EXPECT_EQ(bn.state_dict().at("num_batches_tracked").item<int64_t>(), 2);
  // Eval mode: (x - running_mean) / sqrt(running_var + eps) * weight + bias, statistics untouched.
  {
    NoGradGuard g;
    bn.weight().copy_(from_vector<float>({2.0f, 0.5f}, {2}));
    bn.bias().copy_(from_vector<float>({-1.0f, 3.0f}, {2}));
  }
  bn.eval();
  Tensor x3 = randn({3, 2, 2, 2});
  Tensor y = bn(x3);
  const auto xv = x3.to_vector<double>(), yv = y.to_vector<double>();
  const double w[2] = {2.0, 0.5}, b[2] = {-1.0, 3.0};
  for (size_t i = 0; i < xv.size(); ++i) {
    const int c = static_cast<int>((i / 4) % 2);
    EXPECT_NEAR(yv[i], (xv[i] - mean[c]) / std::sqrt(var[c] + 1e-5) * w[c] + b[c], 1e-4);
  }
  EXPECT_NEAR(bn.running_mean().to_vector<double>()[0], mean[0], 1e-5);
  EXPECT_EQ(bn.state_dict().at("num_batches_tracked").item<int64_t>(), 2);
  // Back in training mode the batch's own statistics normalise it: per-channel mean 0, var 1.
  bn.train();
  NoGradGuard g;
  bn.weight().fill_(1.0);
  bn.bias().fill_(0.0);
  Tensor z = bn(x3);
  Tensor m = magmadnn::mean(z, {0, 2, 3});
  EXPECT_LT(nn_cnn_test::max_abs(m), 1e-5);
  EXPECT_EQ(bn.state_dict().at("num_batches_tracked").item<int64_t>(), 3);
}

TEST(BatchNormModule, OptionsBuffersAndStateDictNames) {
  nn::BatchNorm2d bn(64);
  EXPECT_EQ(bn.name(), "BatchNorm2d(64, eps=1e-05, momentum=0.1, affine=true, track_running_stats=true)");
  std::vector<std::string> keys;
  for (const auto& [k, v] : bn.named_parameters()) keys.push_back(k);
  EXPECT_EQ(keys, (std::vector<std::string>{"weight", "bias"}));
  keys.clear();
  for (const auto& [k, v] : bn.named_buffers()) keys.push_back(k);
  EXPECT_EQ(keys, (std::vector<std::string>{"running_mean", "running_var", "num_batches_tracked"}));
  EXPECT_EQ(bn.state_dict().size(), 5u);
  EXPECT_EQ(bn.state_dict().at("num_batches_tracked").dtype(), kInt64);
  EXPECT_EQ(bn.state_dict().at("num_batches_tracked").dim(), 0);
  EXPECT_EQ(bn.running_var().to_vector<float>(), std::vector<float>(64, 1.0f));
  EXPECT_EQ(bn.weight().to_vector<float>(), std::vector<float>(64, 1.0f));
  EXPECT_EQ(bn.num_parameters(), 128);
  bn.to(kFloat64);  // floating tensors only: the counter stays int64
  EXPECT_EQ(bn.running_mean().dtype(), kFloat64);
  EXPECT_EQ(bn.state_dict().at("num_batches_tracked").dtype(), kInt64);

  nn::BatchNorm1d plain(nn::BatchNormOptions(3).affine(false).track_running_stats(false));
  EXPECT_TRUE(plain.state_dict().empty());
  // Without running statistics eval mode normalises with the batch's statistics, as PyTorch.
  plain.eval();
  Tensor x = add(mul(randn({8, 3}), 3.0), 2.0);
  Tensor m = mean(plain(x), {0});
  EXPECT_LT(nn_cnn_test::max_abs(m), 1e-5);
}

TEST(BatchNormModule, Float64Gradcheck) {
  manual_seed(31);
  auto bn2 = std::make_shared<nn::BatchNorm2d>(3);
  auto bn1 = std::make_shared<nn::BatchNorm1d>(nn::BatchNormOptions(2).momentum(0.3));
  for (auto bn : std::vector<std::shared_ptr<nn::BatchNormBase>>{bn2, bn1}) {
    bn->to(kFloat64);
    NoGradGuard g;
    bn->weight().copy_(uniform({bn->options().num_features()}, 0.5, 1.5, kFloat64));
    bn->bias().copy_(uniform({bn->options().num_features()}, -0.5, 0.5, kFloat64));
  }
  for (bool training : {true, false}) {
    bn2->train(training);
    bn1->train(training);
    Tensor x2 = randn({3, 3, 2, 3}, kFloat64).set_requires_grad();
    Tensor x1 = randn({4, 2, 3}, kFloat64).set_requires_grad();
    auto r2 = autograd::gradcheck([&](const std::vector<Tensor>& in) { return (*bn2)(in[0]); }, {x2});
    EXPECT_TRUE(r2.ok) << "train=" << training << " " << r2.message;
    auto r1 = autograd::gradcheck([&](const std::vector<Tensor>& in) { return (*bn1)(in[0]); }, {x1});
    EXPECT_TRUE(r1.ok) << "train=" << training << " " << r1.message;
    // The affine parameters' gradients through the batch_norm op.
    auto rp = autograd::gradcheck(
        [&](const std::vector<Tensor>& in) {
          return batch_norm(in[0], Tensor(), Tensor(), in[1], in[2], true, 0.1, 1e-5);
        },
        {x2, bn2->weight(), bn2->bias()});
    EXPECT_TRUE(rp.ok) << rp.message;
  }
}

TEST(BatchNormModule, ErrorsNameTheLayerAndShapes) {
  nn::BatchNorm2d bn(64);
  EXPECT_THAT(error_of([&] {
                bn(randn({2, 32, 4, 4}));
              }),
              HasSubstr("BatchNorm2d(64): expected input (N, 64, H, W), got (2, 32, 4, 4)"));
  EXPECT_THAT(error_of([&] {
                bn(randn({2, 64}));
              }),
              HasSubstr("BatchNorm2d(64): expected input (N, 64, H, W), got (2, 64)"));
  nn::BatchNorm1d bn1(5);
  EXPECT_THAT(error_of([&] {
                bn1(randn({2, 5, 3, 3}));
              }),
              HasSubstr("BatchNorm1d(5): expected input (N, 5) or (N, 5, L), got (2, 5, 3, 3)"));
  EXPECT_THAT(error_of([&] { bn1(Tensor()); }), HasSubstr("BatchNorm1d(5): got an undefined input"));
  EXPECT_THAT(error_of([&] { bn1(randn({1, 5})); }), HasSubstr("more than 1 value per channel"));
  EXPECT_THAT(error_of([] { nn::BatchNorm2d(-1); }),
              HasSubstr("BatchNorm2d: num_features must be positive, got -1"));
  EXPECT_THAT(error_of([] { nn::BatchNorm1d(nn::BatchNormOptions(4).eps(0)); }),
              HasSubstr("eps must be positive"));
  EXPECT_THAT(error_of([] { nn::BatchNorm2d(nn::BatchNormOptions(4).momentum(-0.1)); }),
              HasSubstr("momentum in [0, 1]"));
}

// The Backend's BatchNorm bookkeeping that the module calls (the CPU keeps the defaults; the CUDA
// backend fuses each into one launch, checked against these in tests/cuda): the running-statistics
// rule by hand, the counter in every dtype it is kept in, and its one error.
TEST(BatchNormModule, BackendBookkeepingByHand) {
  Backend& be = backend_for(Device::cpu());
  const Tensor mean = from_vector<float>({1, -2, 4}, {3}), var = from_vector<float>({0.5f, 2, 1}, {3});
  Tensor rm = from_vector<float>({0, 1, 2}, {3}), rv = from_vector<float>({1, 1, 3}, {3});
  be.batch_norm_update_running(mean, var, rm, rv, 0.1, 10.0 / 9.0);
  const std::vector<float> m = rm.to_vector<float>(), v = rv.to_vector<float>();
  const float want_m[] = {0.9f * 0 + 0.1f * 1, 0.9f * 1 + 0.1f * -2, 0.9f * 2 + 0.1f * 4};
  const float want_v[] = {0.9f + 0.5f / 9, 0.9f + 2.0f / 9, 2.7f + 1.0f / 9};
  for (int c = 0; c < 3; ++c) {
    EXPECT_NEAR(m[c], want_m[c], 1e-6) << c;
    EXPECT_NEAR(v[c], want_v[c], 1e-6) << c;
  }
  for (DType dt : {kInt64, kInt32, kFloat32, kFloat64}) {
    Tensor counter = full({}, 41.0, dt);
    be.increment(counter);
    be.increment(counter);
    EXPECT_EQ(counter.item<double>(), 43.0) << dtype_name(dt);
  }
  Tensor two = zeros({2}, kInt64);
  EXPECT_THAT(error_of([&] { be.increment(two); }), HasSubstr("increment: expected a one-element counter, got shape (2)"));
}
