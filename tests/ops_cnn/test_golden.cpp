// conv2d, pooling and batch_norm against PyTorch 1.13 golden values (tests/golden/gen_cnn.py):
// outputs and the gradients of sum(out * coef), in float32 (oneDNN) and float64 (loops), to
// 1e-5 relative / 1e-6 absolute.
#include "ops_cnn/cnn_test_util.h"

using namespace cnntest;

namespace {
Size2 size2(const nlohmann::json& j) { return {j[0].get<int64_t>(), j[1].get<int64_t>()}; }
}  // namespace

TEST(GoldenCnn, Conv2d) {
  const auto fixture = load_golden("cnn_conv.json");
  ASSERT_GE(fixture["cases"].size(), 8u);
  for (const auto& c : fixture["cases"]) {
    const std::string name = c["name"];
    Conv2dArgs a;
    a.stride = size2(c["stride"]);
    a.padding = size2(c["padding"]);
    a.dilation = size2(c["dilation"]);
    a.groups = c["groups"];
    a.padding_mode = c["circular"].get<bool>() ? PaddingMode::Circular : PaddingMode::Zeros;
    for (DType dt : {kFloat32, kFloat64}) {
      Tensor x = from_json(c["x"], dt).set_requires_grad(), w = from_json(c["weight"], dt).set_requires_grad();
      Tensor b = c.contains("bias") ? from_json(c["bias"], dt).set_requires_grad() : Tensor();
      Tensor y = conv2d(x, w, b, a);
      EXPECT_TRUE(matches(y, c["y"])) << name << " " << dt;
      sum(y * from_json(c["coef"], dt)).backward();
      EXPECT_TRUE(matches(x.grad(), c["grad_x"])) << name << " " << dt;
      EXPECT_TRUE(matches(w.grad(), c["grad_weight"])) << name << " " << dt;
      if (b.defined()) EXPECT_TRUE(matches(b.grad(), c["grad_bias"])) << name << " " << dt;
    }
  }
}

TEST(GoldenCnn, Pooling) {
  const auto fixture = load_golden("cnn_pool.json");
  ASSERT_GE(fixture["cases"].size(), 10u);
  for (const auto& c : fixture["cases"]) {
    const std::string name = c["name"], kind = c["kind"];
    for (DType dt : {kFloat32, kFloat64}) {
      Tensor x = from_json(c["x"], dt).set_requires_grad();
      Tensor y;
      if (kind == "adaptive") {
        y = adaptive_avg_pool2d(x, size2(c["output_size"]));
      } else if (kind == "max") {
        y = max_pool2d(x, size2(c["kernel"]), size2(c["stride"]), size2(c["padding"]), c["ceil_mode"]);
      } else {
        y = avg_pool2d(x, size2(c["kernel"]), size2(c["stride"]), size2(c["padding"]), c["ceil_mode"],
                       c["count_include_pad"]);
      }
      EXPECT_TRUE(matches(y, c["y"])) << name << " " << dt;
      sum(y * from_json(c["coef"], dt)).backward();
      EXPECT_TRUE(matches(x.grad(), c["grad_x"])) << name << " " << dt;
    }
  }
}

TEST(GoldenCnn, BatchNormTrainAndEval) {
  const auto fixture = load_golden("cnn_batchnorm.json");
  ASSERT_EQ(fixture["cases"].size(), 4u);
  for (const auto& c : fixture["cases"]) {
    const std::string name = c["name"];
    const bool training = c["training"];
    const double momentum = c["momentum"], eps = c["eps"];
    for (DType dt : {kFloat32, kFloat64}) {
      Tensor rm = from_json(c["running_mean_before"], dt), rv = from_json(c["running_var_before"], dt);
      Tensor w = from_json(c["weight"], dt).set_requires_grad(), b = from_json(c["bias"], dt).set_requires_grad();
      Tensor x, y;
      for (const auto& xi : c["inputs"]) {  // several training steps; gradients from the last one
        x = from_json(xi, dt).set_requires_grad();
        y = batch_norm(x, rm, rv, w, b, training, momentum, eps);
      }
      EXPECT_TRUE(matches(y, c["y"])) << name << " " << dt;
      EXPECT_TRUE(matches(rm, c["running_mean_after"])) << name << " " << dt;
      EXPECT_TRUE(matches(rv, c["running_var_after"])) << name << " " << dt;
      sum(y * from_json(c["coef"], dt)).backward();
      EXPECT_TRUE(matches(x.grad(), c["grad_x"])) << name << " " << dt;
      EXPECT_TRUE(matches(w.grad(), c["grad_weight"])) << name << " " << dt;
      EXPECT_TRUE(matches(b.grad(), c["grad_bias"])) << name << " " << dt;
    }
  }
}
