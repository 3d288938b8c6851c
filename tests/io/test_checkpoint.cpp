// Checkpoint checks: every name/shape/dtype mismatch between a model's state and a file is
// reported in one error naming the file; Module save/load round trips once the nn layer exists.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "data_loading/temp_dir.h"
#include "magmadnn/io/checkpoint.h"
#include "magmadnn/magmadnn.h"

#if __has_include("magmadnn/nn/module.h")
#include "magmadnn/nn/module.h"
#define HAVE_NN_MODULE 1
#endif

using namespace magmadnn;
using magmadnn::testing::read_bytes;
using magmadnn::testing::TempDir;
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
            (std::vector<std::string>{"'bn.num_batches_tracked' is int32 () in the file but int64 () in the model",
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
  EXPECT_EQ(error_of([&] { io::load_checked(path, model); }),
            "load_module: " + path +
                ": 2 mismatches with the model: 'a' is float32 (2, 3) in the file but float32 (3, 2) in the model; "
                "missing 'c' (model has float32 (1))");
  std::map<std::string, Tensor> ok{{"a", zeros({2, 3})}, {"b", zeros({4})}};
  EXPECT_EQ(io::load_checked(path, ok).size(), 2u);
  EXPECT_THAT(error_of([&] { io::load_checked(dir.file("none"), ok); }),
              HasSubstr("load_safetensors: " + dir.file("none") + ": cannot open"));
}
