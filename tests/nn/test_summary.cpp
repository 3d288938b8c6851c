// nn::summarize: output shapes, parameter counts and multiply-accumulates of each layer against
// numbers worked out by hand (strided and grouped convolutions, a Linear), qualified names through
// nested modules, a module called twice, the model's mode and state left as they were, and errors.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/error_of.h"
#include "magmadnn/magmadnn.h"

using namespace magmadnn;
using magmadnn::testing::error_of;
using ::testing::HasSubstr;

TEST(Summary, LayersOfASmallCnnMatchHandCounts) {
  auto model = std::make_shared<nn::Sequential>(
      std::make_shared<nn::Conv2d>(nn::Conv2dOptions(3, 8, 3).padding(1)), std::make_shared<nn::ReLU>(),
      std::make_shared<nn::Conv2d>(nn::Conv2dOptions(8, 8, 3).stride(2).padding(1).groups(2)),
      std::make_shared<nn::Flatten>(), std::make_shared<nn::Linear>(8 * 5 * 5, 4));
  const nn::ModelSummary s = nn::summarize(*model, {2, 3, 10, 10});
  ASSERT_EQ(s.layers.size(), 5u);
  const std::vector<std::string> names{"0", "1", "2", "3", "4"};
  const std::vector<Shape> shapes{{2, 8, 10, 10}, {2, 8, 10, 10}, {2, 8, 5, 5}, {2, 200}, {2, 4}};
  // conv 3->8 3x3: 8*3*9 weights + 8 biases; grouped conv 8->8 in 2 groups: 8*4*9 + 8; linear 200*4 + 4.
  const std::vector<int64_t> params{224, 0, 296, 0, 804};
  // Every output element is one dot product: 2*8*10*10 outputs of 3*9 products; 2*8*5*5 of 4*9; 2*4 of 200.
  const std::vector<int64_t> macs{2 * 8 * 10 * 10 * 27, 0, 2 * 8 * 5 * 5 * 36, 0, 2 * 4 * 200};
  for (size_t k = 0; k < 5; ++k) {
    EXPECT_EQ(s.layers[k].name, names[k]);
    EXPECT_EQ(s.layers[k].output, shapes[k]) << k;
    EXPECT_EQ(s.layers[k].parameters, params[k]) << k;
    EXPECT_EQ(s.layers[k].macs, macs[k]) << k;
  }
  EXPECT_EQ(s.layers[0].type.rfind("Conv2d(", 0), 0u);
  EXPECT_EQ(s.parameters, 224 + 296 + 804);
  EXPECT_EQ(s.parameters, model->num_parameters());
  EXPECT_EQ(s.trainable_parameters, s.parameters);
  EXPECT_EQ(s.macs, 43200 + 14400 + 1600);
  EXPECT_EQ(s.parameter_bytes, s.parameters * 4);
  const std::string table = s.table();
  EXPECT_THAT(table, HasSubstr("(2, 8, 5, 5)"));
  EXPECT_THAT(table, HasSubstr("parameters 1,324 (1,324 trainable)"));
  EXPECT_THAT(table, HasSubstr("multiply-accumulates per forward pass 59,200"));
}

TEST(Summary, NestedNamesSharedModulesAndStateLeftAlone) {
  models::ModelConfig config;
  config.base_width = 8;
  auto resnet = models::make_model("resnet18", config);
  resnet->train();
  const auto before = resnet->state_dict();
  std::map<std::string, std::vector<float>> values;
  for (const auto& [k, v] : before) values[k] = v.to(kFloat32).contiguous().to_vector<float>();
  const nn::ModelSummary s = nn::summarize(*resnet, {1, 1, 28, 28});
  std::set<std::string> names;
  int64_t row_params = 0;
  for (const auto& l : s.layers) {
    names.insert(l.name);
    row_params += l.parameters;
  }
  EXPECT_TRUE(names.count("layers.0.conv1")) << s.table();
  EXPECT_TRUE(names.count("layers.2.shortcut.0")) << s.table();  // the first block of stage 2 downsamples
  EXPECT_TRUE(names.count("fc"));
  EXPECT_EQ(row_params, resnet->num_parameters());
  EXPECT_EQ(s.layers.back().output, Shape({1, 10}));
  // Still in training mode, with the same weights and running statistics, and no gradients.
  EXPECT_TRUE(resnet->is_training());
  for (const auto& [k, v] : resnet->state_dict())
    EXPECT_EQ(v.to(kFloat32).contiguous().to_vector<float>(), values.at(k)) << k;
  for (const Tensor& p : resnet->parameters()) EXPECT_FALSE(p.grad().defined());

  // One Linear called twice: two rows, its parameters counted once.
  auto shared = std::make_shared<nn::Linear>(6, 6);
  nn::Sequential twice(shared, std::make_shared<nn::ReLU>(), shared);
  const nn::ModelSummary t = nn::summarize(twice, {3, 6});
  ASSERT_EQ(t.layers.size(), 3u);
  EXPECT_EQ(t.layers[0].parameters, 42);
  EXPECT_EQ(t.layers[2].parameters, 0);
  EXPECT_EQ(t.layers[2].macs, 3 * 36);
  EXPECT_EQ(t.parameters, 42);
}

TEST(Summary, AnInputTheModelRejectsNamesModelAndShape) {
  nn::Linear linear(5, 2);
  linear.train();
  EXPECT_THAT(error_of([&] { nn::summarize(linear, {4, 3}); }),
              HasSubstr("summary of Linear(in_features=5, out_features=2, bias=true) for input (4, 3): "));
  EXPECT_TRUE(linear.is_training());
}
