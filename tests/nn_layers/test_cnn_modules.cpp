// The convolutional modules (Conv2d, pooling, BatchNorm), the model zoo's CNNs and inference
// fusion: module outputs against the ops, running statistics by hand, parameter counts
// against PyTorch, fused == unfused, and a LeNet convergence check on Fashion-MNIST.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include "magmadnn/magmadnn.h"
#include "magmadnn/nn/fusion.h"

using namespace magmadnn;
using ::testing::HasSubstr;

namespace {
std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "<no error>";
}
double max_abs_diff(const Tensor& a, const Tensor& b) {
  const auto va = a.to_vector<double>(), vb = b.to_vector<double>();
  double m = 0;
  for (size_t i = 0; i < va.size(); ++i) m = std::max(m, std::abs(va[i] - vb[i]));
  return m;
}
}  // namespace

TEST(Conv2dModule, ForwardEqualsOpAndNamesItself) {
  manual_seed(0);
  nn::Conv2d conv(nn::Conv2dOptions(3, 8, 3).stride(2).padding(1));
  Tensor x = randn({2, 3, 9, 9});
  Tensor y = conv(x);
  EXPECT_EQ(y.shape(), Shape({2, 8, 5, 5}));
  Conv2dArgs args;
  args.stride = 2;
  args.padding = 1;
  EXPECT_LT(max_abs_diff(y, conv2d(x, conv.weight(), conv.bias(), args)), 1e-6);
  EXPECT_EQ(conv.name(), "Conv2d(3, 8, kernel_size=(3, 3), stride=(2, 2), padding=(1, 1))");
  EXPECT_THAT(error_of([&] { conv(randn({2, 1, 9, 9})); }),
              HasSubstr("Conv2d(3, 8, kernel_size=(3, 3), stride=(2, 2), padding=(1, 1)): expected input (N, 3, H, W), got (2, 1, 9, 9)"));
  EXPECT_THAT(error_of([] { nn::Conv2d(nn::Conv2dOptions(3, 8, -1)); }), HasSubstr("must be positive"));
  EXPECT_THAT(error_of([] { nn::Conv2d(nn::Conv2dOptions(3, 8, 3).groups(2)); }), HasSubstr("groups=2 must divide"));
}

TEST(Conv2dModule, DefaultInitBoundsFollowPyTorch) {
  manual_seed(1);
  nn::Conv2d conv(nn::Conv2dOptions(4, 16, 3));
  const double bound = 1.0 / std::sqrt(4.0 * 9.0);  // kaiming_uniform(a=sqrt(5)) on fan_in 36
  for (double v : conv.weight().to_vector<double>()) EXPECT_LE(std::abs(v), bound + 1e-7);
  for (double v : conv.bias().to_vector<double>()) EXPECT_LE(std::abs(v), bound + 1e-7);
}

TEST(Conv2dModule, Float64Gradcheck) {
  manual_seed(2);
  auto conv = std::make_shared<nn::Conv2d>(nn::Conv2dOptions(2, 3, 3).padding(1).padding_mode(PaddingMode::Circular));
  conv->to(kFloat64);
  Tensor x = randn({2, 2, 4, 4}, kFloat64).set_requires_grad();
  auto r = autograd::gradcheck([&](const std::vector<Tensor>& in) { return (*conv)(in[0]); }, {x});
  EXPECT_TRUE(r.ok) << r.message;
}

TEST(BatchNormModule, RunningStatisticsAndEvalMode) {
  manual_seed(3);
  nn::BatchNorm2d bn(nn::BatchNormOptions(2).momentum(0.5));
  Tensor x = randn({4, 2, 3, 3});
  bn(x);
  bn(x);
  // Two updates with momentum 0.5 from (0, 1): running = 0.75 * batch + 0.25 * initial.
  const auto v = x.to_vector<double>();
  for (int c = 0; c < 2; ++c) {
    double s = 0, s2 = 0;
    int n = 0;
    for (int i = 0; i < 4; ++i)
      for (int k = 0; k < 9; ++k) {
        const double e = v[(i * 2 + c) * 9 + k];
        s += e;
        s2 += e * e;
        ++n;
      }
    const double mean = s / n, unbiased = (s2 - n * mean * mean) / (n - 1);
    EXPECT_NEAR(bn.running_mean().to_vector<double>()[c], 0.75 * mean, 1e-5);
    EXPECT_NEAR(bn.running_var().to_vector<double>()[c], 0.75 * unbiased + 0.25, 1e-5);
  }
  const auto sd = bn.state_dict();
  for (const char* key : {"weight", "bias", "running_mean", "running_var", "num_batches_tracked"})
    EXPECT_TRUE(sd.count(key)) << key;
  EXPECT_EQ(sd.at("num_batches_tracked").item<int64_t>(), 2);
  // Eval mode normalises with the running statistics and leaves them alone.
  bn.eval();
  const auto before = bn.running_mean().to_vector<double>();
  Tensor y = bn(x);
  EXPECT_EQ(bn.running_mean().to_vector<double>(), before);
  const double rm = before[0], rv = bn.running_var().to_vector<double>()[0];
  EXPECT_NEAR(y.to_vector<double>()[0], (v[0] - rm) / std::sqrt(rv + 1e-5), 1e-5);
  EXPECT_THAT(error_of([&] { bn(randn({4, 3, 2, 2})); }),
              HasSubstr("BatchNorm2d(2): expected input (N, 2, H, W), got (4, 3, 2, 2)"));
}

TEST(PoolingModules, OutputShapes) {
  Tensor x = randn({2, 3, 7, 7});
  EXPECT_EQ(nn::MaxPool2d(Size2(2))(x).shape(), Shape({2, 3, 3, 3}));
  EXPECT_EQ(nn::MaxPool2d(nn::MaxPool2dOptions(2).ceil_mode(true))(x).shape(), Shape({2, 3, 4, 4}));
  EXPECT_EQ(nn::AvgPool2d(nn::AvgPool2dOptions(3).stride(2).padding(1))(x).shape(), Shape({2, 3, 4, 4}));
  EXPECT_EQ(nn::AdaptiveAvgPool2d(Size2(1))(x).shape(), Shape({2, 3, 1, 1}));
  EXPECT_THAT(error_of([] { nn::MaxPool2d(Size2(2))(randn({3, 7, 7})); }), HasSubstr("expected input (N, C, H, W)"));
}

TEST(ModelZoo, ShapesAndParameterCountsMatchPyTorch) {
  manual_seed(4);
  // Counts from torch 1.13 for ../shared/bench/torch_ref.py's cnn() and ResNet18 (1 input
  // channel, 10 classes) and the same ResNet with [3, 4, 6, 3] blocks.
  auto lenet = models::make_model("lenet");
  EXPECT_EQ(lenet->num_parameters(), 225034);
  EXPECT_EQ((*lenet)(randn({2, 1, 28, 28})).shape(), Shape({2, 10}));
  auto r18 = models::make_model("resnet18");
  EXPECT_EQ(r18->num_parameters(), 11172810);
  EXPECT_EQ(models::make_model("resnet34")->num_parameters(), 21280970);
  models::ModelConfig imagenet;
  imagenet.in_channels = 3;
  imagenet.height = imagenet.width = 64;
  imagenet.num_classes = 5;
  imagenet.imagenet_stem = true;
  auto r = models::make_model("resnet18", imagenet);
  r->eval();
  EXPECT_EQ((*r)(randn({1, 3, 64, 64})).shape(), Shape({1, 5}));
  EXPECT_THAT(error_of([] { models::make_model("vgg"); }), HasSubstr("unknown model 'vgg'"));
}

TEST(Fusion, FoldedResNetEqualsUnfused) {
  manual_seed(5);
  auto model = models::make_model("resnet18");
  // Give every BatchNorm non-trivial statistics and affine parameters.
  {
    NoGradGuard g;
    for (auto& [name, t] : model->state_dict()) {
      if (name.find("running_var") != std::string::npos) t.copy_(uniform(t.shape(), 0.5, 2.0));
      else if (name.find("running_mean") != std::string::npos) t.copy_(uniform(t.shape(), -0.5, 0.5));
      else if (name.find("bn") != std::string::npos || name.find("stem.1") != std::string::npos ||
               name.find("shortcut.1") != std::string::npos)
        if (t.dtype() == kFloat32) t.copy_(uniform(t.shape(), 0.5, 1.5));
    }
  }
  model->eval();
  set_conv_winograd(false);  // compare like with like: the fused convs differ only in weights
  Tensor x = randn({2, 1, 28, 28});
  Tensor reference = (*model)(x);
  nn::fuse_for_inference(*model);
  Tensor fused = (*model)(x);
  set_conv_winograd(true);
  const double scale = std::max(1.0, max_abs_diff(reference, zeros_like(reference)));
  EXPECT_LT(max_abs_diff(fused, reference) / scale, 1e-5);
  EXPECT_THAT(model->summary(), HasSubstr("fused_relu=true"));
}

TEST(Fusion, SequentialConvBatchNormReLU) {
  manual_seed(6);
  auto seq = std::make_shared<nn::Sequential>(std::make_shared<nn::Conv2d>(nn::Conv2dOptions(3, 4, 3)),
                                              std::make_shared<nn::BatchNorm2d>(4), std::make_shared<nn::ReLU>(),
                                              std::make_shared<nn::Flatten>());
  Tensor x = randn({3, 3, 6, 6});
  (*seq)(x);  // one training step of statistics
  seq->eval();
  Tensor reference = (*seq)(x);
  nn::fuse_for_inference(*seq);
  EXPECT_EQ((*seq)[1]->name(), "Identity()");
  EXPECT_EQ((*seq)[2]->name(), "Identity()");
  EXPECT_LT(max_abs_diff((*seq)(x), reference), 1e-5);
}

TEST(LeNet, LearnsFashionMnistSubset) {
  const std::string dir = data::kFashionMnistDir;
  if (!std::filesystem::exists(dir + "/train-images-idx3-ubyte.gz")) GTEST_SKIP() << "Fashion-MNIST not installed";
  manual_seed(0);
  auto train_full = data::load_mnist(dir, true);
  auto test_full = data::load_mnist(dir, false);
  auto subset = [](const data::TensorDataset& d, int64_t n) {
    return std::make_shared<data::TensorDataset>(d.inputs().narrow(0, 0, n).contiguous(),
                                                 d.targets().narrow(0, 0, n).contiguous());
  };
  auto train = subset(*train_full, 3000), test = subset(*test_full, 1000);
  auto model = models::make_model("lenet");
  auto opt = std::make_shared<optim::SGD>(model->parameters(), optim::SGDOptions(0.05).momentum(0.9));
  data::DataLoader train_loader(train, data::DataLoaderOptions(64).seed(0));
  data::DataLoader test_loader(test, data::DataLoaderOptions(500).shuffle(false));
  train::TrainerOptions options;
  options.epochs = 3;
  options.progress = train::ProgressMode::None;
  train::Trainer trainer(model, opt, options);
  const auto history = trainer.fit(train_loader, &test_loader);
  EXPECT_GE(history.back().test_accuracy, 0.72);
}
