// Small networks against PyTorch, number for number in float64: a conv-BN-ReLU-pool stack with
// circular padding, count_include_pad=false average pooling and a Linear head, and ResNet basic
// blocks with projection and identity shortcuts (weights, train-mode outputs, every parameter's
// gradient, running statistics, eval-mode outputs; fixtures from tests/golden/gen_nn_cnn.py).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "nn_cnn/golden_state.h"
#include "nn_cnn/nn_cnn_test_util.h"

using namespace magmadnn;

namespace {
Tensor tensor_from(const nlohmann::json& j) {
  return golden::tensor_of(j["data"], golden::shape_of(j["shape"]), kFloat64);
}

std::shared_ptr<nn::Module> small_cnn() {
  return std::make_shared<nn::Sequential>(
      std::make_shared<nn::Conv2d>(nn::Conv2dOptions(2, 4, 3).padding(1)),
      std::make_shared<nn::BatchNorm2d>(4), std::make_shared<nn::ReLU>(), std::make_shared<nn::MaxPool2d>(2),
      std::make_shared<nn::Conv2d>(nn::Conv2dOptions(4, 6, 3).padding(1).padding_mode(PaddingMode::Circular)),
      std::make_shared<nn::ReLU>(),
      std::make_shared<nn::AvgPool2d>(nn::AvgPool2dOptions(3).stride(2).padding(1).count_include_pad(false)),
      std::make_shared<nn::Flatten>(), std::make_shared<nn::Linear>(24, 3));
}

void check_against_fixture(nn::Module& module, const nlohmann::json& c) {
  module.to(kFloat64);
  nn_cnn_test::load_golden_state(module, c["state"]);
  module.train();
  Tensor x = tensor_from(c["x"]).set_requires_grad();
  Tensor y = module(x);
  EXPECT_TRUE(golden::close_to(y, c["y"]["data"], 1e-9, 1e-10));
  sum(mul(y, tensor_from(c["coef"]))).backward();
  EXPECT_TRUE(golden::close_to(x.grad(), c["grad_x"]["data"], 1e-8, 1e-10));
  const auto params = module.named_parameters();
  EXPECT_EQ(params.size(), c["grads"].size());
  for (const auto& [name, p] : params) {
    SCOPED_TRACE(name);
    ASSERT_TRUE(c["grads"].contains(name));
    ASSERT_TRUE(p.grad().defined());
    EXPECT_TRUE(golden::close_to(p.grad(), c["grads"][name]["data"], 1e-8, 1e-10));
  }
  const auto sd = module.state_dict();
  for (const auto& [name, value] : c["running_after"].items()) {
    SCOPED_TRACE(name);
    EXPECT_TRUE(golden::close_to(sd.at(name), value["data"], 1e-10, 1e-12));
  }
  module.eval();
  EXPECT_TRUE(golden::close_to(module(tensor_from(c["eval_x"])), c["eval_y"]["data"], 1e-9, 1e-10));
}

const nlohmann::json& net_case(const nlohmann::json& fixture, const std::string& name) {
  for (const auto& c : fixture["nets"])
    if (c["name"] == name) return c;
  throw std::runtime_error("no fixture case " + name);
}
}  // namespace

TEST(GoldenNets, ConvBatchNormPoolLinearStackMatchesPyTorch) {
  const auto fixture = golden::load("nn_cnn_modules.json");
  auto net = small_cnn();
  check_against_fixture(*net, net_case(fixture, "small_cnn"));
}

TEST(GoldenNets, BasicBlockWithProjectionShortcutMatchesPyTorch) {
  const auto fixture = golden::load("nn_cnn_modules.json");
  models::BasicBlock block(4, 8, 2);
  EXPECT_EQ(block.name(), "BasicBlock(4, 8, stride=2)");
  EXPECT_EQ(block.shortcut().size(), 2u);
  check_against_fixture(block, net_case(fixture, "block_projection"));
}

TEST(GoldenNets, BasicBlockWithIdentityShortcutMatchesPyTorch) {
  const auto fixture = golden::load("nn_cnn_modules.json");
  models::BasicBlock block(4, 4, 1);
  EXPECT_TRUE(block.shortcut().empty());
  check_against_fixture(block, net_case(fixture, "block_identity"));
}
