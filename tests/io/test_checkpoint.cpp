// Checkpoint checks: every name/shape/dtype mismatch between a model's state and a file is
// reported in one error naming the file; Module save/load round trips.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/error_of.h"
#include "data_loading/temp_dir.h"
#include "magmadnn/io/checkpoint.h"
#include "magmadnn/magmadnn.h"
#include "magmadnn/nn/nn.h"

using namespace magmadnn;
using magmadnn::testing::read_bytes;
using magmadnn::testing::TempDir;
using ::testing::HasSubstr;

namespace {
using magmadnn::testing::error_of;
}  // namespace

TEST(Checkpoint, MismatchesListsEveryProblem) {
  std::map<std::string, Tensor> model{{"fc.weight", zeros({10, 784})},
                                      {"fc.bias", zeros({10})},
                                      {"bn.num_batches_tracked", zeros({}, kInt64)},
                                      {"bn.running_mean", zeros({10})}};
  std::map<std::string, Tensor> file{{"fc.weight", zeros({10, 5})},
                                     {"bn.num_batches_tracked", zeros({}, kInt32)},
                                     {"bn.running_mean", zeros({10})},
                                     {"extra", zeros({2, 2}, kFloat64)}};
  EXPECT_EQ(io::state_dict_mismatches(model, file),
            (std::vector<std::string>{
                "'bn.num_batches_tracked' is int32 () in the file but int64 () in the model",
                "unexpected 'extra' (float64 (2, 2)) not in the model",
                "missing 'fc.bias' (model has float32 (10))",
                "'fc.weight' is float32 (10, 5) in the file but float32 (10, 784) in the model"}));
  EXPECT_TRUE(io::state_dict_mismatches(model, model).empty());
}

TEST(Checkpoint, LoadCheckedReportsAllInOneLine) {
  TempDir dir;
  const std::string path = dir.file("w.safetensors");
  io::save_safetensors(path, {{"a", zeros({2, 3})}, {"b", zeros({4})}});
  std::map<std::string, Tensor> model{{"a", zeros({3, 2})}, {"c", zeros({1})}, {"b", zeros({4})}};
  EXPECT_EQ(
      error_of([&] { io::load_checked(path, model); }),
      "load_module: " + path +
          ": 2 mismatches with the model: 'a' is float32 (2, 3) in the file but float32 (3, 2) in the model; "
          "missing 'c' (model has float32 (1))");
  std::map<std::string, Tensor> ok{{"a", zeros({2, 3})}, {"b", zeros({4})}};
  EXPECT_EQ(io::load_checked(path, ok).size(), 2u);
  EXPECT_THAT(error_of([&] { io::load_checked(dir.file("none"), ok); }),
              HasSubstr("load_safetensors: " + dir.file("none") + ": cannot open"));
}

namespace {
// A model with a buffer as well as parameters, so both kinds travel through the file.
class WithBuffer : public nn::Module {
 public:
  explicit WithBuffer(int64_t n) {
    fc_ = register_module("fc", std::make_shared<nn::Linear>(n, 3));
    steps_ = &register_buffer("steps", zeros({}, kInt64));
  }
  Tensor forward(const Tensor& x) override { return fc_->forward(x); }
  Tensor& steps() { return *steps_; }

 private:
  std::shared_ptr<nn::Linear> fc_;
  Tensor* steps_;
};
}  // namespace

TEST(Checkpoint, ModuleRoundTrip) {
  TempDir dir;
  const std::string path = dir.file("model.safetensors");
  manual_seed(1);
  WithBuffer a(4);
  a.steps().fill_(17);
  io::save_module(a, path, {{"epoch", "3"}});
  manual_seed(2);
  WithBuffer b(4);
  std::map<std::string, std::string> meta;
  io::load_module(b, path, &meta);
  EXPECT_EQ(meta, (std::map<std::string, std::string>{{"epoch", "3"}, {"format", "pt"}}));
  const auto sa = a.state_dict(), sb = b.state_dict();
  ASSERT_EQ(sa.size(), 3u);
  for (const auto& [name, t] : sa) EXPECT_EQ(t.to_vector<double>(), sb.at(name).to_vector<double>()) << name;
  EXPECT_EQ(b.steps().item<int64_t>(), 17);
  Tensor x = randn({2, 4});
  EXPECT_TRUE(allclose(a(x), b(x), 0, 0));
  // The file is an ordinary safetensors file with the dotted names.
  auto raw = io::load_safetensors(path);
  EXPECT_EQ(raw.at("fc.weight").shape(), Shape({3, 4}));
}

TEST(Checkpoint, LoadModuleReportsEveryMismatchAndChangesNothing) {
  TempDir dir;
  const std::string path = dir.file("other.safetensors");
  manual_seed(3);
  nn::Sequential other(std::make_shared<nn::Linear>(5, 3), std::make_shared<nn::Linear>(3, 2));
  io::save_module(other, path);
  WithBuffer model(4);
  const auto before = model.state_dict().at("fc.weight").to_vector<float>();
  EXPECT_EQ(error_of([&] { io::load_module(model, path); }),
            "load_module: " + path +
                ": 7 mismatches with the model: unexpected '0.bias' (float32 (3)) not in the model; "
                "unexpected '0.weight' (float32 (3, 5)) not in the model; "
                "unexpected '1.bias' (float32 (2)) not in the model; "
                "unexpected '1.weight' (float32 (2, 3)) not in the model; "
                "missing 'fc.bias' (model has float32 (3)); missing 'fc.weight' (model has float32 (3, 4)); "
                "missing 'steps' (model has int64 ())");
  EXPECT_EQ(model.state_dict().at("fc.weight").to_vector<float>(), before);
  WithBuffer wider(5);
  io::save_module(wider, path);
  EXPECT_EQ(error_of([&] { io::load_module(model, path); }),
            "load_module: " + path +
                ": 1 mismatch with the model: 'fc.weight' is float32 (3, 5) in the file but float32 (3, 4) "
                "in the model");
  EXPECT_EQ(model.state_dict().at("fc.weight").to_vector<float>(), before);
}
