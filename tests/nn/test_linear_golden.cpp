// nn::Linear and a small MLP against PyTorch 1.13 (tests/data/golden/linear.json): forward
// values and gradients with fixed weights, eight Adam steps on cross-entropy, and a toy problem
// that training must solve.
#include <gtest/gtest.h>

#include "golden/golden.h"
#include "magmadnn/magmadnn.h"

using namespace magmadnn;
using json = nlohmann::json;

namespace {

TEST(LinearGolden, ForwardAndBackwardMatchTorch) {
  const json cases = golden::load("linear.json")["linear"];
  ASSERT_EQ(cases.size(), 2u);
  for (const auto& c : cases) {
    nn::Linear lin(5, 3);
    {
      NoGradGuard no_grad;
      lin.weight().copy_(golden::tensor_of(c["weight"], {3, 5}));
      lin.bias().copy_(golden::tensor_of(c["bias"], {3}));
    }
    const Shape in_shape = golden::shape_of(c["in_shape"]);
    Tensor x = golden::tensor_of(c["x"], in_shape).set_requires_grad();
    Tensor y = lin(x);
    std::vector<int64_t> out(in_shape.begin(), in_shape.end() - 1);
    out.push_back(3);
    ASSERT_EQ(y.shape(), Shape(out));
    EXPECT_TRUE(golden::close_to(y, c["y"])) << c["name"];
    sum(mul(y, golden::tensor_of(c["grad_output"], y.shape()))).backward();
    EXPECT_TRUE(golden::close_to(lin.weight().grad(), c["grad_weight"])) << c["name"];
    EXPECT_TRUE(golden::close_to(lin.bias().grad(), c["grad_bias"])) << c["name"];
    EXPECT_TRUE(golden::close_to(x.grad(), c["grad_x"])) << c["name"];
  }
}

TEST(LinearGolden, MlpAdamTrainingMatchesTorch) {
  const json g = golden::load("linear.json")["mlp_adam"];
  auto model = std::make_shared<nn::Sequential>(
      std::make_shared<nn::Linear>(6, 8), std::make_shared<nn::Tanh>(), std::make_shared<nn::Linear>(8, 3));
  model->to(kFloat64);
  std::map<std::string, Tensor> sd;
  for (auto& [k, t] : model->state_dict()) sd[k] = golden::tensor_of(g["init"][k], t.shape(), kFloat64);
  model->load_state_dict(sd);
  Tensor x = golden::tensor_of(g["x"], {10, 6}, kFloat64);
  Tensor target = from_vector<int64_t>(g["target"].get<std::vector<int64_t>>());
  optim::Adam opt(model->parameters(), optim::AdamOptions(0.05));
  const auto losses = g["losses"].get<std::vector<double>>();
  for (size_t s = 0; s < losses.size(); ++s) {
    opt.zero_grad();
    Tensor loss = cross_entropy(model->forward(x), target);
    loss.backward();
    opt.step();
    EXPECT_NEAR(loss.item<double>(), losses[s], 1e-9 * losses[s]) << "step " << s;
  }
  for (auto& [k, t] : model->state_dict()) EXPECT_TRUE(golden::close_to(t, g["final"][k], 1e-8, 1e-12)) << k;
}

// Two interleaved spirals-like classes on a ring: not linearly separable, so the hidden layer matters.
TEST(Training, SmallMlpSolvesToyProblem) {
  manual_seed(0);
  const int64_t n = 256;
  Tensor x = rand({n, 2}) * 4.0 - 2.0;
  std::vector<float> xv = x.to_vector<float>();
  std::vector<int64_t> yv(n);
  for (int64_t i = 0; i < n; ++i) {
    const float r2 = xv[2 * i] * xv[2 * i] + xv[2 * i + 1] * xv[2 * i + 1];
    yv[i] = r2 < 1.5f ? 0 : 1;  // inside or outside a circle
  }
  Tensor y = from_vector(yv);
  auto model = std::make_shared<nn::Sequential>(
      std::make_shared<nn::Linear>(2, 32), std::make_shared<nn::ReLU>(), std::make_shared<nn::Linear>(32, 32),
      std::make_shared<nn::ReLU>(), std::make_shared<nn::Linear>(32, 2));
  optim::Adam opt(model->parameters(), optim::AdamOptions(0.02));
  optim::StepLR sched(opt, 150, 0.5);
  double first = 0, last = 0;
  for (int epoch = 0; epoch < 300; ++epoch) {
    opt.zero_grad();
    Tensor loss = cross_entropy(model->forward(x), y);
    loss.backward();
    opt.step();
    sched.step();
    if (epoch == 0) first = loss.item<float>();
    last = loss.item<float>();
  }
  EXPECT_GT(first, 0.5);
  EXPECT_LT(last, 0.08);
  model->eval();
  NoGradGuard no_grad;
  Tensor pred = argmax(model->forward(x), 1);
  auto pv = pred.to_vector<int64_t>();
  int64_t correct = 0;
  for (int64_t i = 0; i < n; ++i) correct += pv[i] == yv[i];
  EXPECT_GE(correct, n * 97 / 100);
}

}  // namespace
