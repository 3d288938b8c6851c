// ONNX export (export/onnx.h): networks using every exported layer are written, passed through
// onnx.checker and an independent NumPy interpreter of the ONNX operators
// (tests/cli/onnx_eval.py, python3-onnx), and its outputs compared with the model's forward
// pass; layers without an exact ONNX form are errors naming the layer; the model's mode is kept.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "common/error_of.h"
#include "data_loading/temp_dir.h"
#include "magmadnn/magmadnn.h"

using namespace magmadnn;
using magmadnn::testing::error_of;
using magmadnn::testing::TempDir;
using ::testing::HasSubstr;

namespace {

template <class M, class... Args>
std::shared_ptr<nn::Module> make(Args&&... args) {
  return std::make_shared<M>(std::forward<Args>(args)...);
}

// Exports `model` for inputs shaped like `x`, runs the file through onnx_eval.py on `x`, and
// returns its output.
Tensor run_exported(nn::Module& model, const Tensor& x, const onnx::ExportOptions& options = {}) {
  TempDir dir;
  onnx::export_onnx(model, x.shape(), dir.file("m.onnx"), options);
  io::save_npy(dir.file("x.npy"), io::from_tensor(x));
  const std::string cmd = "/usr/bin/python3 " MAGMADNN_SOURCE_DIR "/tests/cli/onnx_eval.py run " + dir.file("m.onnx") +
                          " " + dir.file("x.npy") + " " + dir.file("y.npy") + " > " + dir.file("log") + " 2>&1";
  if (std::system(cmd.c_str()) != 0) {
    std::ifstream log(dir.file("log"));
    ADD_FAILURE() << "onnx_eval.py failed (python3-onnx installed? scripts/install-deps.sh): "
                  << std::string(std::istreambuf_iterator<char>(log), {});
    return Tensor();
  }
  return io::to_tensor(io::load_npy(dir.file("y.npy")));
}

void expect_same_as_forward(nn::Module& model, const Tensor& x, const onnx::ExportOptions& options = {},
                            const Tensor& model_input = Tensor()) {
  model.eval();
  Tensor want;
  {
    NoGradGuard g;
    want = model(model_input.defined() ? model_input : x);
  }
  const Tensor got = run_exported(model, x, options);
  ASSERT_TRUE(got.defined());
  ASSERT_EQ(got.shape(), want.shape());
  EXPECT_TRUE(allclose(got, want, 1e-4, 1e-5)) << "got " << got << " want " << want;
}

}  // namespace

TEST(OnnxExport, ConvolutionsPoolingsAndActivations) {
  manual_seed(1);
  nn::Sequential net(
      make<nn::Conv2d>(nn::Conv2dOptions(4, 6, 3).stride(2).padding(1).dilation(1).groups(2)),
      make<nn::BatchNorm2d>(6), make<nn::LeakyReLU>(0.2),
      make<nn::Conv2d>(nn::Conv2dOptions(6, 8, Size2(3, 2)).dilation(Size2(2, 1)).padding(Size2(2, 1)).bias(false)),
      make<nn::GELU>(), make<nn::MaxPool2d>(nn::MaxPool2dOptions(3).stride(2).padding(1).ceil_mode(true)),
      make<nn::AvgPool2d>(nn::AvgPool2dOptions(2).stride(1).padding(1).count_include_pad(false)), make<nn::Tanh>(),
      make<nn::AdaptiveAvgPool2d>(Size2(2)), make<nn::Sigmoid>(), make<nn::Dropout>(0.3), make<nn::Flatten>(),
      make<nn::Linear>(32, 5), make<nn::Identity>(), make<nn::LogSoftmax>(1));
  // Running statistics that are not the defaults, so BatchNormalization's inputs matter.
  auto& bn = *net.at<nn::BatchNorm2d>(1);
  bn.running_mean().copy_(randn({6}) * 0.5);
  bn.running_var().copy_(rand({6}) + 0.5);
  bn.weight().detach().copy_(randn({6}));
  expect_same_as_forward(net, randn({3, 4, 15, 13}));
}

TEST(OnnxExport, LinearOnHigherRanksSoftmaxAndBatchNorm1d) {
  manual_seed(2);
  nn::Sequential seq(make<nn::Linear>(7, 6), make<nn::ReLU>(), make<nn::Linear>(6, 4, false), make<nn::Softmax>(-1));
  expect_same_as_forward(seq, randn({2, 3, 7}));  // MatMul + Add keep the leading dimensions
  nn::Sequential mlp(make<nn::Linear>(5, 8), make<nn::BatchNorm1d>(8), make<nn::ReLU>(), make<nn::Linear>(8, 3));
  mlp.at<nn::BatchNorm1d>(1)->running_var().copy_(rand({8}) + 0.1);
  expect_same_as_forward(mlp, randn({4, 5}));
}

TEST(OnnxExport, LayerAndGroupNormAreComposed) {
  manual_seed(6);
  auto ln = std::make_shared<nn::LayerNorm>(nn::LayerNormOptions(Shape{3, 4}).eps(1e-3));
  ln->weight().detach().copy_(randn({3, 4}));
  ln->bias().detach().copy_(randn({3, 4}));
  nn::Sequential with_ln(make<nn::Conv2d>(nn::Conv2dOptions(2, 5, 1)), ln,
                         make<nn::LayerNorm>(nn::LayerNormOptions(Shape{4}).elementwise_affine(false)));
  expect_same_as_forward(with_ln, randn({2, 2, 3, 4}) * 3.0 + 1.0);
  auto gn = std::make_shared<nn::GroupNorm>(3, 6);
  gn->weight().detach().copy_(randn({6}));
  gn->bias().detach().copy_(randn({6}));
  nn::Sequential with_gn(make<nn::Conv2d>(nn::Conv2dOptions(2, 6, 3).padding(1)), gn, make<nn::ReLU>(),
                         make<nn::GroupNorm>(nn::GroupNormOptions(2, 6).affine(false)));
  expect_same_as_forward(with_gn, randn({2, 2, 5, 4}));
}

TEST(OnnxExport, InputNormalisationIsPartOfTheGraph) {
  manual_seed(3);
  auto model = models::make_model("lenet", models::ModelConfig{3, 12, 12, 4});
  onnx::ExportOptions o;
  o.input_mean = {0.5, 0.25, -1.0};
  o.input_std = {2.0, 0.5, 4.0};
  const Tensor x = rand({2, 3, 12, 12});
  const Tensor normalised = data::Normalize(o.input_mean, o.input_std)(x);
  expect_same_as_forward(*model, x, o, normalised);
  EXPECT_THAT(error_of([&] {
                onnx::ExportOptions bad;
                bad.input_mean = {0.5, 0.5};
                bad.input_std = {1.0, 1.0};
                onnx::serialize_onnx(*model, {1, 3, 12, 12}, bad);
              }),
              HasSubstr("export_onnx: 2 normalisation values for inputs (1, 3, 12, 12) with 3 channels"));
}

TEST(OnnxExport, ResNetBlocksFusedOrNot) {
  manual_seed(4);
  models::ModelConfig c{2, 16, 16, 5};
  c.base_width = 8;
  c.imagenet_stem = true;
  auto net = models::make_model("resnet18", c);
  // One training step's worth of running statistics.
  net->train();
  {
    NoGradGuard g;
    (*net)(randn({8, 2, 16, 16}));
  }
  const Tensor x = randn({2, 2, 16, 16});
  expect_same_as_forward(*net, x);
  nn::fuse_for_inference(*net);
  expect_same_as_forward(*net, x);
}

TEST(OnnxExport, LayersWithoutAnExactFormAreErrorsNamingThem) {
  auto export_error = [](nn::Module& m, const Shape& s) {
    return error_of([&] { onnx::serialize_onnx(m, s); });
  };
  nn::Sequential with_embedding(make<nn::Linear>(4, 4), make<nn::Embedding>(4, 4));
  EXPECT_THAT(export_error(with_embedding, {2, 4}), HasSubstr("export_onnx: layer '1' (Embedding("));
  EXPECT_THAT(export_error(with_embedding, {2, 4}), HasSubstr(") has no ONNX form; supported: Sequential"));
  nn::Sequential circular(make<nn::Conv2d>(nn::Conv2dOptions(1, 2, 3).padding(1).padding_mode(PaddingMode::Circular)));
  EXPECT_THAT(export_error(circular, {1, 1, 5, 5}), HasSubstr("layer '0' (Conv2d(1, 2, kernel_size=(3, 3)"));
  EXPECT_THAT(export_error(circular, {1, 1, 5, 5}), HasSubstr("pads circularly"));
  // PyTorch drops the last ceil-mode window when it would start in the padding; ONNX keeps it.
  nn::Sequential ceil(make<nn::MaxPool2d>(nn::MaxPool2dOptions(2).stride(2).padding(1).ceil_mode(true)));
  EXPECT_THAT(export_error(ceil, {1, 1, 5, 5}), HasSubstr("ONNX's ceil mode would add a window"));
  nn::Sequential batch_stats(make<nn::BatchNorm2d>(nn::BatchNormOptions(3).track_running_stats(false)));
  EXPECT_THAT(export_error(batch_stats, {2, 3, 4, 4}), HasSubstr("keeps no running statistics"));
  nn::Sequential partial_flatten(make<nn::Flatten>(2, 3));
  EXPECT_THAT(export_error(partial_flatten, {2, 3, 4, 4}), HasSubstr("only Flatten(1, -1) is exported"));
  nn::AdaptiveAvgPool2d uneven(Size2(3));
  EXPECT_THAT(export_error(uneven, {1, 1, 5, 5}), HasSubstr("windows of different sizes"));
  nn::Linear linear(3, 2);
  EXPECT_THAT(export_error(linear, {3}), HasSubstr("needs a batch dimension"));
  linear.to(kFloat64);
  EXPECT_THAT(export_error(linear, {1, 3}), HasSubstr("must hold float32 CPU parameters"));
}

TEST(OnnxExport, KeepsTheModelsModeAndWritesAtomically) {
  manual_seed(5);
  nn::Sequential net(make<nn::Linear>(3, 3), make<nn::Dropout>(0.5), make<nn::Embedding>(3, 3));
  net.train();
  EXPECT_THAT(error_of([&] { onnx::serialize_onnx(net, {2, 3}); }), HasSubstr("has no ONNX form"));
  EXPECT_TRUE(net.is_training());  // restored after a failed trace too
  nn::Sequential ok(make<nn::Linear>(3, 3), make<nn::Dropout>(0.5));
  ok.train();
  TempDir dir;
  onnx::export_onnx(ok, {2, 3}, dir.file("m.onnx"));
  EXPECT_TRUE(ok.is_training());
  EXPECT_GT(std::filesystem::file_size(dir.file("m.onnx")), 3u * 3u * 4u);
  EXPECT_THAT(error_of([&] { onnx::export_onnx(ok, {2, 3}, dir.file("missing/m.onnx")); }),
              HasSubstr("export_onnx"));
  // A model that returns its input still has an output node.
  nn::Identity identity;
  const Tensor x = randn({2, 3});
  expect_same_as_forward(identity, x);
}
