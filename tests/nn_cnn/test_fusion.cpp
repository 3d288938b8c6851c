// Inference fusion: BatchNorm folded into the preceding Conv2d (checked against the formula),
// ReLU fused into the convolution, and fused models equal to the unfused eval-mode models within
// 1e-5 (a LeNet-like stack with BatchNorm, the zoo's ResNet-18 with either stem, randomised
// statistics); patterns that must not fuse, idempotence and errors.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "magmadnn/nn/fusion.h"
#include "nn_cnn/nn_cnn_test_util.h"

using namespace magmadnn;
using nn_cnn_test::error_of;
using nn_cnn_test::max_abs;
using nn_cnn_test::max_abs_diff;
using ::testing::HasSubstr;
using ::testing::Not;

namespace {
// Non-trivial affine parameters and running statistics for every BatchNorm in the tree.
void randomise_batch_norms(nn::Module& m) {
  if (auto* bn = dynamic_cast<nn::BatchNormBase*>(&m)) {
    NoGradGuard g;
    const int64_t c = bn->options().num_features();
    if (bn->weight().defined()) bn->weight().copy_(uniform({c}, 0.5, 1.5, bn->weight().dtype()));
    if (bn->bias().defined()) bn->bias().copy_(uniform({c}, -0.5, 0.5, bn->bias().dtype()));
    if (bn->running_mean().defined())
      bn->running_mean().copy_(uniform({c}, -0.3, 0.3, bn->running_mean().dtype()));
    if (bn->running_var().defined())
      bn->running_var().copy_(uniform({c}, 0.5, 2.0, bn->running_var().dtype()));
  }
  for (auto& child : m.children()) randomise_batch_norms(*child);
}

int count_keys(const nn::Module& m, const std::string& part) {
  int n = 0;
  for (const auto& [k, v] : m.state_dict()) n += k.find(part) != std::string::npos;
  return n;
}

// The fused output agrees with the reference to 1e-5 of the reference's magnitude.
void expect_equal_outputs(const Tensor& fused, const Tensor& reference) {
  const double scale = std::max(1.0, max_abs(reference));
  EXPECT_LT(max_abs_diff(fused, reference) / scale, 1e-5);
}
}  // namespace

TEST(Fusion, FoldBatchNormFollowsTheFormula) {
  manual_seed(50);
  nn::Conv2d conv(nn::Conv2dOptions(2, 3, 3));
  nn::BatchNorm2d bn(nn::BatchNormOptions(3).eps(1e-3));
  randomise_batch_norms(bn);
  const auto w = conv.weight().to_vector<double>(), b = conv.bias().to_vector<double>();
  const auto gamma = bn.weight().to_vector<double>(), beta = bn.bias().to_vector<double>();
  const auto mu = bn.running_mean().to_vector<double>(), var = bn.running_var().to_vector<double>();
  nn::fold_batch_norm(conv, bn);
  const auto w2 = conv.weight().to_vector<double>(), b2 = conv.bias().to_vector<double>();
  for (int o = 0; o < 3; ++o) {
    const double scale = gamma[o] / std::sqrt(var[o] + 1e-3);
    for (int i = 0; i < 18; ++i) EXPECT_NEAR(w2[o * 18 + i], w[o * 18 + i] * scale, 1e-6);
    EXPECT_NEAR(b2[o], (b[o] - mu[o]) * scale + beta[o], 1e-6);
  }
  // A convolution without bias gains one; a BatchNorm without affine parameters folds as gamma 1, beta 0.
  nn::Conv2d no_bias(nn::Conv2dOptions(2, 3, 1).bias(false));
  nn::BatchNorm2d plain(nn::BatchNormOptions(3).affine(false));
  randomise_batch_norms(plain);
  const auto w0 = no_bias.weight().to_vector<double>();
  nn::fold_batch_norm(no_bias, plain);
  ASSERT_TRUE(no_bias.bias().defined());
  EXPECT_EQ(no_bias.state_dict().count("bias"), 1u);
  const auto pm = plain.running_mean().to_vector<double>(), pv = plain.running_var().to_vector<double>();
  for (int o = 0; o < 3; ++o) {
    EXPECT_NEAR(no_bias.weight().to_vector<double>()[o * 2], w0[o * 2] / std::sqrt(pv[o] + 1e-5), 1e-6);
    EXPECT_NEAR(no_bias.bias().to_vector<double>()[o], -pm[o] / std::sqrt(pv[o] + 1e-5), 1e-6);
  }
}

TEST(Fusion, LeNetWithBatchNormEqualsUnfused) {
  manual_seed(51);
  auto net = std::make_shared<nn::Sequential>(
      std::make_shared<nn::Conv2d>(nn::Conv2dOptions(1, 8, 3)), std::make_shared<nn::BatchNorm2d>(8),
      std::make_shared<nn::ReLU>(), std::make_shared<nn::MaxPool2d>(2),
      std::make_shared<nn::Conv2d>(nn::Conv2dOptions(8, 16, 3).padding(1).bias(false)),
      std::make_shared<nn::BatchNorm2d>(16), std::make_shared<nn::ReLU>(), std::make_shared<nn::MaxPool2d>(2),
      std::make_shared<nn::Flatten>(), std::make_shared<nn::Linear>(16 * 6 * 6, 32),
      std::make_shared<nn::BatchNorm1d>(32), std::make_shared<nn::ReLU>(), std::make_shared<nn::Dropout>(0.5),
      std::make_shared<nn::Linear>(32, 10));
  // Statistics from a few training batches, then randomised affine parameters on top.
  for (int i = 0; i < 3; ++i) (*net)(add(randn({16, 1, 28, 28}), 0.5));
  randomise_batch_norms(*net);
  net->eval();
  Tensor x = randn({4, 1, 28, 28});
  Tensor reference = (*net)(x);
  nn::fuse_for_inference(*net);
  EXPECT_FALSE(net->is_training());
  expect_equal_outputs((*net)(x), reference);
  {
    NoGradGuard g;  // the in-place ReLU path
    expect_equal_outputs((*net)(x), reference);
  }
  EXPECT_EQ(net->at<nn::Conv2d>(0)->fused_relu(), true);
  EXPECT_EQ(net->at<nn::Conv2d>(4)->fused_relu(), true);
  for (size_t i : {1, 2, 5, 6}) EXPECT_EQ((*net)[i]->name(), "Identity()") << i;
  // Only BatchNorms that follow a convolution fold: the BatchNorm1d after the Linear stays.
  EXPECT_THAT((*net)[10]->name(), HasSubstr("BatchNorm1d(32"));
  EXPECT_EQ(count_keys(*net, "running_mean"), 1);
  EXPECT_EQ(net->state_dict().count("4.bias"), 1u);  // gained by folding
  // Fusing again changes nothing.
  nn::fuse_for_inference(*net);
  expect_equal_outputs((*net)(x), reference);
}

TEST(Fusion, PartialPatterns) {
  manual_seed(52);
  Tensor x = randn({2, 3, 8, 8});
  // Conv + ReLU without BatchNorm: only the ReLU fuses.
  auto a = std::make_shared<nn::Sequential>(std::make_shared<nn::Conv2d>(nn::Conv2dOptions(3, 4, 3)),
                                            std::make_shared<nn::ReLU>());
  a->eval();
  Tensor ra = (*a)(x);
  nn::fuse_for_inference(*a);
  EXPECT_TRUE(a->at<nn::Conv2d>(0)->fused_relu());
  expect_equal_outputs((*a)(x), ra);
  // Conv + BN without ReLU; then a BN that follows a pool (not a convolution) stays.
  auto b = std::make_shared<nn::Sequential>(
      std::make_shared<nn::Conv2d>(nn::Conv2dOptions(3, 4, 3)), std::make_shared<nn::BatchNorm2d>(4),
      std::make_shared<nn::MaxPool2d>(2), std::make_shared<nn::BatchNorm2d>(4), std::make_shared<nn::ReLU>());
  randomise_batch_norms(*b);
  b->eval();
  Tensor rb = (*b)(x);
  nn::fuse_for_inference(*b);
  EXPECT_FALSE(b->at<nn::Conv2d>(0)->fused_relu());
  EXPECT_EQ((*b)[1]->name(), "Identity()");
  EXPECT_THAT((*b)[3]->name(), HasSubstr("BatchNorm2d(4"));
  EXPECT_THAT((*b)[4]->name(), "ReLU()");
  expect_equal_outputs((*b)(x), rb);
}

TEST(Fusion, ResNet18CifarStemEqualsUnfused) {
  manual_seed(53);
  auto model = models::make_model("resnet18");
  randomise_batch_norms(*model);
  model->eval();
  Tensor x = randn({2, 1, 28, 28});
  Tensor reference = (*model)(x);
  const size_t keys_before = model->state_dict().size();
  nn::fuse_for_inference(*model);
  expect_equal_outputs((*model)(x), reference);
  // Every BatchNorm followed a convolution (bn1, bn2, the stem's and the projections'): all gone.
  EXPECT_EQ(count_keys(*model, "running_mean"), 0);
  EXPECT_EQ(count_keys(*model, "num_batches_tracked"), 0);
  EXPECT_LT(model->state_dict().size(), keys_before);
  EXPECT_EQ(model->state_dict().count("layers.0.conv1.bias"), 1u);
  EXPECT_EQ(model->state_dict().count("layers.2.shortcut.0.bias"), 1u);
  EXPECT_EQ(model->state_dict().count("stem.0.bias"), 1u);
  auto* resnet = dynamic_cast<models::ResNet*>(model.get());
  ASSERT_NE(resnet, nullptr);
  for (size_t i = 0; i < resnet->layers().size(); ++i) {
    auto block = resnet->layers().at<models::BasicBlock>(i);
    EXPECT_TRUE(block->fused());
    EXPECT_TRUE(block->conv1().fused_relu());
    EXPECT_FALSE(block->conv2().fused_relu());  // the ReLU comes after the residual addition
  }
  EXPECT_THAT(model->summary(), HasSubstr("fused_relu=true"));
  EXPECT_THAT(model->summary(), Not(HasSubstr("BatchNorm2d")));
}

TEST(Fusion, ResNet18ImageNetStemEqualsUnfused) {
  manual_seed(54);
  models::ModelConfig config;
  config.in_channels = 3;
  config.height = config.width = 32;
  config.num_classes = 7;
  config.imagenet_stem = true;
  auto model = models::make_model("resnet18", config);
  randomise_batch_norms(*model);
  model->eval();
  Tensor x = randn({2, 3, 32, 32});
  Tensor reference = (*model)(x);
  nn::fuse_for_inference(*model);
  NoGradGuard g;
  expect_equal_outputs((*model)(x), reference);
  auto* resnet = dynamic_cast<models::ResNet*>(model.get());
  EXPECT_TRUE(resnet->stem().at<nn::Conv2d>(0)->fused_relu());
  EXPECT_THAT(resnet->stem()[3]->name(), HasSubstr("MaxPool2d"));
}

TEST(Fusion, Errors) {
  nn::Conv2d conv(nn::Conv2dOptions(2, 3, 3));
  nn::BatchNorm2d wrong(4);
  EXPECT_THAT(
      error_of([&] { nn::fold_batch_norm(conv, wrong); }),
      HasSubstr(
          "fold_batch_norm: BatchNorm2d(4, eps=1e-05, momentum=0.1, affine=true, track_running_stats=true) "
          "does not follow Conv2d(2, 3"));
  nn::BatchNorm2d untracked(nn::BatchNormOptions(3).track_running_stats(false));
  EXPECT_THAT(error_of([&] { nn::fold_batch_norm(conv, untracked); }),
              HasSubstr("has no running statistics to fold"));
}
