// The model zoo: names, output shapes for each model and stem, state-dict keys and shapes equal
// to PyTorch's models (torch_ref.py's cnn and ResNet18, the [3, 4, 6, 3] variant, torchvision-
// style ImageNet stems; fixture from tests/golden/gen_nn_cnn.py), parameter counts, gradients
// through the residual additions, train/eval behaviour and errors.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>

#include <algorithm>

#include "golden/golden.h"
#include "nn_cnn/nn_cnn_test_util.h"

using namespace magmadnn;
using nn_cnn_test::error_of;
using nn_cnn_test::max_abs_diff;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

namespace {
// Keys and shapes in the same order as PyTorch's state_dict (registration order).
void expect_state_dict_like_pytorch(const nn::Module& model, const nlohmann::json& entry) {
  std::vector<std::pair<std::string, Tensor>> ours = model.named_parameters();
  const auto buffers = model.named_buffers();
  std::map<std::string, Shape> shapes;
  for (const auto& [k, v] : ours) shapes[k] = v.shape();
  for (const auto& [k, v] : buffers) shapes[k] = v.shape();
  const auto keys = entry["keys"].get<std::vector<std::string>>();
  const auto expected_shapes = entry["shapes"].get<std::vector<std::vector<int64_t>>>();
  EXPECT_EQ(shapes.size(), keys.size());
  for (size_t i = 0; i < keys.size(); ++i) {
    SCOPED_TRACE(keys[i]);
    ASSERT_TRUE(shapes.count(keys[i]));
    EXPECT_EQ(shapes[keys[i]], Shape(expected_shapes[i]));
  }
  EXPECT_EQ(model.num_parameters(), entry["num_parameters"].get<int64_t>());
}

models::ModelConfig imagenet_config(int64_t channels, int64_t size, int64_t classes) {
  models::ModelConfig c;
  c.in_channels = channels;
  c.height = c.width = size;
  c.num_classes = classes;
  c.imagenet_stem = true;
  return c;
}
}  // namespace

TEST(ModelZoo, Names) {
  EXPECT_THAT(models::model_names(), ElementsAre("mlp", "lenet", "resnet18", "resnet34"));
  for (const auto& name : models::model_names()) EXPECT_NE(models::make_model(name), nullptr) << name;
  EXPECT_THAT(error_of([] { models::make_model("vgg"); }),
              HasSubstr("unknown model 'vgg': expected one of mlp, lenet, resnet18, resnet34 or mlp:W1,W2,..."));
}

TEST(ModelZoo, MlpWithChosenWidths) {
  models::ModelConfig tabular;
  tabular.in_channels = 6;
  tabular.height = tabular.width = 1;
  tabular.num_classes = 3;
  auto net = models::make_model("mlp:16,8", tabular);
  // Flatten, Linear(6, 16), ReLU, Linear(16, 8), ReLU, Linear(8, 3): PyTorch's names and sizes.
  std::map<std::string, Shape> shapes;
  for (const auto& [name, t] : net->state_dict()) shapes[name] = t.shape();
  EXPECT_EQ(shapes, (std::map<std::string, Shape>{{"1.weight", {16, 6}}, {"1.bias", {16}}, {"3.weight", {8, 16}},
                                                  {"3.bias", {8}}, {"5.weight", {3, 8}}, {"5.bias", {3}}}));
  EXPECT_EQ(net->num_parameters(), 6 * 16 + 16 + 16 * 8 + 8 + 8 * 3 + 3);
  EXPECT_EQ((*net)(randn({4, 6, 1, 1})).shape(), Shape({4, 3}));
  // "mlp:" alone: one Linear layer (a linear / logistic model).
  auto linear = models::make_model("mlp:", tabular);
  EXPECT_EQ(linear->num_parameters(), 6 * 3 + 3);
  // The default mlp is mlp:512,256, parameter for parameter.
  manual_seed(5);
  auto a = models::make_model("mlp");
  manual_seed(5);
  auto b = models::make_model("mlp:512,256");
  const auto sa = a->state_dict(), sb = b->state_dict();
  ASSERT_EQ(sa.size(), sb.size());
  for (const auto& [name, t] : sa) EXPECT_TRUE(allclose(t, sb.at(name), 0, 0)) << name;
  for (const char* bad : {"mlp:3,,4", "mlp:-3", "mlp:0", "mlp:x", "mlp:4.5", "mlp:99999999999"})
    EXPECT_THAT(error_of([&] { models::make_model(bad, tabular); }),
                HasSubstr("hidden widths must be positive integers separated by commas"))
        << bad;
  EXPECT_THAT(error_of([&] { models::make_model("mlp:3,", tabular); }), HasSubstr("a comma ends the list"));
}

TEST(ModelZoo, StateDictsAndParameterCountsMatchPyTorch) {
  manual_seed(60);
  const auto fixture = golden::load("nn_cnn_zoo.json");
  {
    SCOPED_TRACE("lenet");
    expect_state_dict_like_pytorch(*models::make_model("lenet"), fixture["lenet"]);
  }
  {
    SCOPED_TRACE("resnet18");
    expect_state_dict_like_pytorch(*models::make_model("resnet18"), fixture["resnet18"]);
  }
  {
    SCOPED_TRACE("resnet34");
    expect_state_dict_like_pytorch(*models::make_model("resnet34"), fixture["resnet34"]);
  }
  {
    SCOPED_TRACE("resnet18 ImageNet");
    expect_state_dict_like_pytorch(*models::make_model("resnet18", imagenet_config(3, 224, 1000)),
                                   fixture["resnet18_imagenet_3x1000"]);
  }
  // The numbers themselves (torch 1.13), so a regenerated fixture cannot drift silently; the
  // ImageNet ones are torchvision's resnet18 / resnet34.
  EXPECT_EQ(fixture["lenet"]["num_parameters"].get<int64_t>(), 225034);
  EXPECT_EQ(fixture["resnet18"]["num_parameters"].get<int64_t>(), 11172810);
  EXPECT_EQ(fixture["resnet34"]["num_parameters"].get<int64_t>(), 21280970);
  EXPECT_EQ(fixture["resnet18_imagenet_3x1000"]["num_parameters"].get<int64_t>(), 11689512);
  EXPECT_EQ(fixture["resnet34_imagenet_3x1000"]["num_parameters"].get<int64_t>(), 21797672);
}

TEST(ModelZoo, OutputShapes) {
  manual_seed(61);
  auto lenet = models::make_model("lenet");
  EXPECT_EQ((*lenet)(randn({2, 1, 28, 28})).shape(), Shape({2, 10}));
  models::ModelConfig cifar;
  cifar.in_channels = 3;
  cifar.height = cifar.width = 32;
  cifar.num_classes = 100;
  EXPECT_EQ((*models::make_model("lenet", cifar))(randn({2, 3, 32, 32})).shape(), Shape({2, 100}));
  EXPECT_EQ((*models::make_model("mlp", cifar))(randn({2, 3, 32, 32})).shape(), Shape({2, 100}));
  auto r18 = models::make_model("resnet18");
  EXPECT_EQ((*r18)(randn({2, 1, 28, 28})).shape(), Shape({2, 10}));
  auto r18i = models::make_model("resnet18", imagenet_config(3, 64, 5));
  r18i->eval();
  EXPECT_EQ((*r18i)(randn({1, 3, 64, 64})).shape(), Shape({1, 5}));
  auto r34 = models::make_model("resnet34", imagenet_config(3, 32, 4));
  {
    NoGradGuard g;
    r34->eval();
    EXPECT_EQ((*r34)(randn({2, 3, 32, 32})).shape(), Shape({2, 4}));
  }
  EXPECT_EQ(r34->num_parameters(),
            21797672 - 996 * 513);  // torchvision resnet34 with a 4-class fc (512 + 1 each)
}

TEST(ModelZoo, ResNetBaseWidthScalesEveryStage) {
  models::ModelConfig c;
  c.in_channels = 6;
  c.height = c.width = 32;
  c.num_classes = 230;
  c.base_width = 16;
  models::ResNet net({2, 2, 2, 2}, c);
  EXPECT_EQ(net.name(), "ResNet(blocks=[2, 2, 2, 2], in_channels=6, num_classes=230, base_width=16, stem=cifar)");
  EXPECT_EQ(net.layers().at<models::BasicBlock>(7)->name(), "BasicBlock(128, 128, stride=1)");
  // Parameters counted from the layout: 3x3 convolutions without bias, BatchNorm weight + bias,
  // 1x1 projections where the width changes, the fc.
  auto block = [](int64_t in, int64_t out) {
    return in * out * 9 + out * out * 9 + 4 * out + (in != out ? in * out + 2 * out : 0);
  };
  const int64_t expected = 6 * 16 * 9 + 2 * 16 + block(16, 16) * 2 + block(16, 32) + block(32, 32) + block(32, 64) +
                           block(64, 64) + block(64, 128) + block(128, 128) + 128 * 230 + 230;
  EXPECT_EQ(net.num_parameters(), expected);
  EXPECT_EQ(net(randn({2, 6, 32, 32})).shape(), Shape({2, 230}));
  c.base_width = 0;
  EXPECT_THAT(error_of([&] { models::ResNet({2}, c); }), HasSubstr("base_width must be positive"));
}

TEST(ModelZoo, ResNetStructureAndNames) {
  auto model = models::make_model("resnet18");
  auto* resnet = dynamic_cast<models::ResNet*>(model.get());
  ASSERT_NE(resnet, nullptr);
  EXPECT_EQ(resnet->name(), "ResNet(blocks=[2, 2, 2, 2], in_channels=1, num_classes=10, stem=cifar)");
  EXPECT_EQ(resnet->layers().size(), 8u);
  EXPECT_EQ(resnet->stem().size(), 3u);
  const char* names[8] = {"BasicBlock(64, 64, stride=1)",   "BasicBlock(64, 64, stride=1)",
                          "BasicBlock(64, 128, stride=2)",  "BasicBlock(128, 128, stride=1)",
                          "BasicBlock(128, 256, stride=2)", "BasicBlock(256, 256, stride=1)",
                          "BasicBlock(256, 512, stride=2)", "BasicBlock(512, 512, stride=1)"};
  for (size_t i = 0; i < 8; ++i) {
    auto block = resnet->layers().at<models::BasicBlock>(i);
    EXPECT_EQ(block->name(), names[i]);
    EXPECT_EQ(block->shortcut().empty(), i % 2 == 1 || i == 0);  // projections where the shape changes
  }
  const auto sd = model->state_dict();
  for (const char* key :
       {"stem.0.weight", "stem.1.running_mean", "layers.0.conv1.weight", "layers.0.bn1.running_mean",
        "layers.0.bn2.num_batches_tracked", "layers.2.shortcut.0.weight", "layers.2.shortcut.1.running_var",
        "fc.weight", "fc.bias"})
    EXPECT_EQ(sd.count(key), 1u) << key;
  EXPECT_EQ(sd.count("stem.0.bias"), 0u);  // convolutions before BatchNorm have no bias
  EXPECT_THAT(model->summary(), HasSubstr("(2): BasicBlock(64, 128, stride=2)"));
  EXPECT_EQ(models::make_model("resnet34", imagenet_config(3, 224, 10))->name(),
            "ResNet(blocks=[3, 4, 6, 3], in_channels=3, num_classes=10, stem=imagenet)");
  // Other depths through the public class.
  models::ResNet tiny({1, 1}, models::ModelConfig{});
  EXPECT_EQ(tiny.fc().weight().shape(), Shape({10, 128}));
  EXPECT_EQ(tiny(randn({2, 1, 12, 12})).shape(), Shape({2, 10}));
}

TEST(ModelZoo, GradientsReachEveryParameterThroughTheResidualAdditions) {
  manual_seed(62);
  auto model = models::make_model("resnet18");
  Tensor x = randn({2, 1, 12, 12}).set_requires_grad();
  Tensor loss = cross_entropy((*model)(x), from_vector<int64_t>({3, 7}, {2}));
  loss.backward();
  for (const auto& [name, p] : model->named_parameters()) {
    ASSERT_TRUE(p.grad().defined()) << name;
    EXPECT_GT(nn_cnn_test::max_abs(p.grad()), 0.0) << name;
  }
  EXPECT_GT(nn_cnn_test::max_abs(x.grad()), 0.0);
  // Training updated every BatchNorm's statistics once.
  for (const auto& [name, t] : model->state_dict())
    if (name.find("num_batches_tracked") != std::string::npos) EXPECT_EQ(t.item<int64_t>(), 1) << name;
}

TEST(ModelZoo, LeNetDropoutOnlyInTraining) {
  manual_seed(63);
  auto lenet = models::make_model("lenet");
  Tensor x = randn({4, 1, 28, 28});
  lenet->eval();
  EXPECT_EQ((*lenet)(x).to_vector<float>(), (*lenet)(x).to_vector<float>());
  lenet->train();
  EXPECT_GT(max_abs_diff((*lenet)(x), (*lenet)(x)), 0.0);
}

TEST(ModelZoo, Errors) {
  models::ModelConfig small;
  small.height = small.width = 8;
  EXPECT_THAT(error_of([&] { models::make_model("lenet", small); }),
              HasSubstr("lenet: input 8x8 is too small"));
  models::ModelConfig bad;
  bad.num_classes = 0;
  EXPECT_THAT(error_of([&] { models::make_model("resnet18", bad); }),
              HasSubstr("make_model(resnet18): sizes must be positive"));
  auto lenet = models::make_model("lenet");
  EXPECT_THAT(error_of([&] {
                (*lenet)(randn({64, 3, 28, 28}));
              }),
              HasSubstr("Conv2d(1, 32, kernel_size=(3, 3), stride=(1, 1)): expected input (N, 1, H, W), got "
                        "(64, 3, 28, 28)"));
  EXPECT_THAT(error_of([&] { (*lenet)(randn({2, 1, 32, 32})); }), HasSubstr("Linear"));  // trained for 28x28
  auto r18 = models::make_model("resnet18");
  EXPECT_THAT(
      error_of([&] {
        (*r18)(randn({2, 3, 28, 28}));
      }),
      HasSubstr(
          "ResNet(blocks=[2, 2, 2, 2], in_channels=1, num_classes=10, stem=cifar): expected input (N, 1, "
          "H, W), got (2, 3, 28, 28)"));
  EXPECT_THAT(error_of([] {
                models::ResNet({2, 0}, models::ModelConfig{});
              }),
              HasSubstr("at least one block"));
  EXPECT_THAT(error_of([] {
                models::ResNet({1, 1, 1, 1, 1}, models::ModelConfig{});
              }),
              HasSubstr("expected 1 to 4 stages, got 5"));
}

TEST(ResNet, AsSequentialIsTheSameNetwork) {
  // The Sequential view (for pipeline stages) runs the same modules in the same order: equal
  // outputs in train and eval mode, the same parameter tensors, and gradients that reach them.
  manual_seed(5);
  models::ModelConfig c;
  c.in_channels = 1, c.height = 12, c.width = 12, c.num_classes = 4;
  auto resnet = std::make_shared<models::ResNet>(std::vector<int>{1, 1}, c);
  auto seq = resnet->as_sequential();
  EXPECT_EQ(seq->size(), 1u + 2u + 3u);  // stem, 2 blocks, pool, flatten, fc
  EXPECT_EQ(seq->parameters().size(), resnet->parameters().size());
  Tensor x = randn({3, 1, 12, 12});
  resnet->eval();
  seq->eval();
  EXPECT_TRUE(allclose(seq->forward(x), resnet->forward(x), 0, 0));
  resnet->train();
  seq->train();
  Tensor y = seq->forward(x);
  EXPECT_TRUE(allclose(y, resnet->forward(x), 0, 0));
  sum(y).backward();
  EXPECT_TRUE(resnet->fc().weight().grad().defined());
  EXPECT_TRUE(resnet->stem().parameters()[0].grad().defined());
}

// A BasicBlock's batch norms can be replaced (what dist::convert_sync_batchnorm does): the block
// then calls the new layer; other children, other kinds of module and a fused block refuse.
TEST(ResNet, BasicBlockBatchNormsCanBeReplaced) {
  manual_seed(7);
  models::BasicBlock block(4, 4, 1);
  block.eval();
  const Tensor x = randn({2, 4, 5, 5});
  const Tensor before = block.forward(x);
  auto bn = std::make_shared<nn::BatchNorm2d>(4);
  bn->eval();
  {
    NoGradGuard g;
    bn->running_var().fill_(4.0);  // halves what bn1 passes on, so the output changes
  }
  ASSERT_TRUE(block.accepts_child("bn1", *bn));
  block.replace_child("bn1", bn);
  EXPECT_EQ(&block.bn1(), bn.get());
  const Tensor after = block.forward(x);
  const Tensor expected = relu(add(block.bn2().forward(block.conv2().forward(relu(bn->forward(block.conv1().forward(x))))), x));
  EXPECT_TRUE(allclose(after, expected, 1e-6, 1e-6));
  EXPECT_FALSE(allclose(after, before, 1e-3, 1e-3));
  EXPECT_THAT(error_of([&] { block.replace_child("conv1", std::make_shared<nn::Conv2d>(nn::Conv2dOptions(4, 4, 3))); }),
              HasSubstr("BasicBlock(4, 4, stride=1): replace_child: cannot put Conv2d"));
  EXPECT_THAT(error_of([&] { block.replace_child("bn2", std::make_shared<nn::ReLU>()); }),
              HasSubstr("cannot put ReLU() in place of 'bn2'"));
  block.fuse_for_inference();
  EXPECT_FALSE(block.accepts_child("bn2", nn::BatchNorm2d(4)));
}
