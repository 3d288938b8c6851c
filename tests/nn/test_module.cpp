// nn::Module and the basic layers: naming and printing, parameter traversal, state dicts and
// their error reports, train/eval propagation, moves between dtypes, and Sequential.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <sstream>

#include "common/error_of.h"
#include "magmadnn/magmadnn.h"

using namespace magmadnn;
using ::testing::HasSubstr;

namespace {

using magmadnn::testing::error_of;

std::shared_ptr<nn::Sequential> mlp() {
  return std::make_shared<nn::Sequential>(
      std::make_shared<nn::Flatten>(), std::make_shared<nn::Linear>(784, 512), std::make_shared<nn::ReLU>(),
      std::make_shared<nn::Linear>(512, 256), std::make_shared<nn::ReLU>(),
      std::make_shared<nn::Linear>(256, 10));
}

// A user-defined module with a buffer and nested children, as a model would be written.
class Net : public nn::Module {
 public:
  Net() {
    features_ = register_module(
        "features",
        std::make_shared<nn::Sequential>(std::make_shared<nn::Linear>(4, 8), std::make_shared<nn::Tanh>()));
    head_ = register_module("head", std::make_shared<nn::Linear>(nn::LinearOptions(8, 2).bias(false)));
    scale_ = register_parameter("scale", ones({1}));
    steps_ = register_buffer("steps", zeros({1}, kInt64));
    running_ = register_buffer("running", zeros({2}));
  }
  Tensor forward(const Tensor& x) override { return mul(head_->forward(features_->forward(x)), scale_); }
  std::string name() const override { return "Net"; }
  std::shared_ptr<nn::Sequential> features_;
  std::shared_ptr<nn::Linear> head_;
  Tensor scale_, steps_, running_;
};

TEST(Module, NamesAndSummary) {
  EXPECT_EQ(nn::Linear(784, 512).name(), "Linear(in_features=784, out_features=512, bias=true)");
  EXPECT_EQ(nn::Linear(nn::LinearOptions(3, 2).bias(false)).name(),
            "Linear(in_features=3, out_features=2, bias=false)");
  EXPECT_EQ(nn::LeakyReLU(0.2).name(), "LeakyReLU(negative_slope=0.2)");
  EXPECT_EQ(nn::Softmax(1).name(), "Softmax(dim=1)");
  EXPECT_EQ(nn::LogSoftmax(-1).name(), "LogSoftmax(dim=-1)");
  EXPECT_EQ(nn::Flatten().name(), "Flatten(start_dim=1, end_dim=-1)");
  struct Unnamed : nn::Module {
    Tensor forward(const Tensor& x) override { return x; }
  };
  EXPECT_EQ(Unnamed().name(), "Unnamed");  // the class name when name() is not overridden
  Net net;
  const std::string expected =
      "Net(\n"
      "  (features): Sequential(\n"
      "    (0): Linear(in_features=4, out_features=8, bias=true)\n"
      "    (1): Tanh()\n"
      "  )\n"
      "  (head): Linear(in_features=8, out_features=2, bias=false)\n"
      ")";
  EXPECT_EQ(net.summary(), expected);
  std::ostringstream os;
  os << net;
  EXPECT_EQ(os.str(), expected);
}

TEST(Module, NamedParametersBuffersAndChildren) {
  Net net;
  std::vector<std::string> names;
  for (auto& [n, t] : net.named_parameters()) {
    names.push_back(n);
    EXPECT_TRUE(t.requires_grad()) << n;
  }
  EXPECT_EQ(names,
            (std::vector<std::string>{"scale", "features.0.weight", "features.0.bias", "head.weight"}));
  std::vector<std::string> buffers;
  for (auto& [n, t] : net.named_buffers()) buffers.push_back(n);
  EXPECT_EQ(buffers, (std::vector<std::string>{"steps", "running"}));
  auto children = net.named_children();
  ASSERT_EQ(children.size(), 2u);
  EXPECT_EQ(children[0].first, "features");
  EXPECT_EQ(children[1].second, net.head_);
  EXPECT_EQ(net.num_parameters(), 1 + 8 * 4 + 8 + 2 * 8);
  // The handles in parameters() are the module's own tensors.
  EXPECT_TRUE(net.parameters()[3].shares_storage(net.head_->weight()));
}

TEST(Module, MlpParameterCount) {
  auto model = mlp();
  EXPECT_EQ(model->num_parameters(), 535818);
  EXPECT_EQ(model->parameters().size(), 6u);
  EXPECT_EQ(model->named_parameters()[2].first, "3.weight");
  EXPECT_EQ(model->size(), 6u);
  EXPECT_EQ(model->at<nn::Linear>(5)->options().out_features(), 10);
  EXPECT_THAT(error_of([&] { model->at<nn::Linear>(0); }), HasSubstr("Sequential::at(0): module is Flatten"));
  EXPECT_THAT(error_of([&] { (*model)[6]; }), HasSubstr("Sequential: index 6 out of range for 6 modules"));
  Tensor y = model->forward(randn({3, 1, 28, 28}));
  EXPECT_EQ(y.shape(), Shape({3, 10}));
}

TEST(Module, SharedParameterCountsOnce) {
  auto lin = std::make_shared<nn::Linear>(3, 3);
  nn::Sequential seq{lin, std::make_shared<nn::ReLU>(), lin};
  EXPECT_EQ(seq.parameters().size(), 2u);
  EXPECT_EQ(seq.num_parameters(), 12);
}

TEST(Module, RegistrationErrors) {
  struct Bad : nn::Module {
    Tensor forward(const Tensor& x) override { return x; }
    std::string name() const override { return "Bad"; }
    void dup() {
      register_parameter("w", ones({1}));
      register_buffer("w", ones({1}));
    }
    void dotted() { register_module("a.b", std::make_shared<nn::ReLU>()); }
  };
  EXPECT_THAT(error_of([] { Bad().dup(); }),
              HasSubstr("Bad: register_buffer: name 'w' is already registered"));
  EXPECT_THAT(error_of([] { Bad().dotted(); }),
              HasSubstr("name must be non-empty and contain no '.', got 'a.b'"));
  EXPECT_THAT(error_of([] {
                nn::Sequential s;
                s.push_back(nullptr);
              }),
              HasSubstr("got a null module"));
}

TEST(Module, StateDictRoundTrip) {
  manual_seed(1);
  Net a;
  manual_seed(2);
  Net b;
  a.steps_.fill_(7);
  a.running_.fill_(0.5);
  auto sd = a.state_dict();
  EXPECT_EQ(sd.size(), 6u);
  for (auto& [k, t] : sd) EXPECT_FALSE(t.requires_grad()) << k;
  Tensor b_weight = b.head_->weight();  // a handle held elsewhere (e.g. by an optimizer)
  EXPECT_FALSE(allclose(b_weight, a.head_->weight()));
  b.load_state_dict(sd);
  EXPECT_TRUE(allclose(b_weight, a.head_->weight()));
  for (auto& [k, t] : b.state_dict()) EXPECT_TRUE(allclose(t.to(kFloat64), sd.at(k).to(kFloat64))) << k;
  EXPECT_EQ(b.steps_.item<int64_t>(), 7);
  Tensor x = randn({5, 4});
  EXPECT_TRUE(allclose(a.forward(x), b.forward(x)));
}

TEST(Module, LoadStateDictListsEveryProblemAndChangesNothing) {
  Net net;
  auto before = net.state_dict();
  std::map<std::string, Tensor> copy;
  for (auto& [k, t] : before) copy[k] = t.clone();

  std::map<std::string, Tensor> bad = copy;
  bad.erase("head.weight");
  bad.erase("steps");
  bad["features.0.weight"] = zeros({4, 8});
  bad["scale"] = ones({1}, kFloat64);
  bad["features.0.bias"] = zeros({9}, kFloat64);
  bad["classifier.bias"] = zeros({2});
  bad["features.0.weight_extra"] = zeros({1});
  bad["running"] = zeros({2}).fill_(3);  // valid, but must not be applied either
  const std::string msg = error_of([&] { net.load_state_dict(bad); });
  EXPECT_THAT(msg, HasSubstr("Net: load_state_dict found 8 problems, nothing was loaded:"));
  EXPECT_THAT(msg, HasSubstr("missing key 'head.weight'"));
  EXPECT_THAT(msg, HasSubstr("missing key 'steps'"));
  EXPECT_THAT(
      msg,
      HasSubstr("shape mismatch for 'features.0.weight': expected (8, 4) (module), got (4, 8) (state dict)"));
  EXPECT_THAT(msg,
              HasSubstr("dtype mismatch for 'scale': expected float32 (module), got float64 (state dict)"));
  EXPECT_THAT(msg,
              HasSubstr("shape mismatch for 'features.0.bias': expected (8) (module), got (9) (state dict)"));
  EXPECT_THAT(msg, HasSubstr("dtype mismatch for 'features.0.bias'"));
  EXPECT_THAT(msg, HasSubstr("unexpected key 'classifier.bias'"));
  EXPECT_THAT(msg, HasSubstr("unexpected key 'features.0.weight_extra'"));
  for (auto& [k, t] : net.state_dict()) EXPECT_TRUE(allclose(t.to(kFloat64), copy.at(k).to(kFloat64))) << k;

  // Non-strict: missing and unexpected keys are fine, the rest is loaded.
  std::map<std::string, Tensor> partial{{"running", full({2}, 3.0)}, {"other", zeros({1})}};
  net.load_state_dict(partial, /*strict=*/false);
  EXPECT_EQ(net.running_.to_vector<float>(), (std::vector<float>{3, 3}));
  EXPECT_THAT(error_of([&] {
                net.load_state_dict({{"running", zeros({3})}}, false);
              }),
              HasSubstr("shape mismatch for 'running'"));
}

TEST(Module, TrainEvalPropagatesToChildren) {
  Net net;
  EXPECT_TRUE(net.is_training());
  net.eval();
  EXPECT_FALSE(net.is_training());
  EXPECT_FALSE(net.features_->is_training());
  EXPECT_FALSE((*net.features_)[1]->is_training());
  EXPECT_FALSE(net.head_->is_training());
  net.train();
  EXPECT_TRUE((*net.features_)[0]->is_training());
  net.features_->train(false);
  EXPECT_TRUE(net.is_training());
  EXPECT_FALSE((*net.features_)[0]->is_training());
}

TEST(Module, ToDTypeKeepsHandlesAndIntegerBuffers) {
  Net net;
  Tensor w = net.head_->weight();
  const std::vector<float> before = w.to_vector<float>();
  net.to(kFloat64);
  EXPECT_EQ(w.dtype(), kFloat64);  // the handle held outside saw the move
  EXPECT_EQ(net.head_->weight().dtype(), kFloat64);
  EXPECT_EQ(net.steps_.dtype(), kInt64);
  EXPECT_EQ(net.running_.dtype(), kFloat64);
  EXPECT_TRUE(w.requires_grad());
  std::vector<double> after = w.to_vector<double>();
  for (size_t i = 0; i < before.size(); ++i) EXPECT_EQ(static_cast<float>(after[i]), before[i]);
  Tensor y = net.forward(randn({2, 4}, kFloat64));
  EXPECT_EQ(y.dtype(), kFloat64);
  EXPECT_THAT(error_of([&] { net.to(kInt64); }),
              HasSubstr("modules can only be converted to a floating dtype"));
  net.to(Device::cpu());  // already there: a no-op
  EXPECT_EQ(w.device(), Device::cpu());
}

TEST(Module, ZeroGradDropsGradients) {
  Net net;
  sum(net.forward(randn({3, 4}))).backward();
  for (auto& p : net.parameters()) EXPECT_TRUE(p.grad().defined());
  net.zero_grad();
  for (auto& p : net.parameters()) EXPECT_FALSE(p.grad().defined());
}

TEST(Linear, ErrorNamesLayerAndShape) {
  nn::Linear lin(784, 512);
  EXPECT_THAT(
      error_of([&] {
        lin.forward(zeros({2, 100}));
      }),
      HasSubstr(
          "Linear(in_features=784, out_features=512, bias=true): expected input (N, 784), got (2, 100)"));
  EXPECT_THAT(error_of([&] {
                lin.forward(zeros({2, 784}, kFloat64));
              }),
              HasSubstr("input dtype float64 differs from the weight's float32"));
  EXPECT_THAT(error_of([] { nn::Linear(0, 3); }), HasSubstr("in_features and out_features must be positive"));
}

TEST(Linear, DefaultInitBounds) {
  manual_seed(3);
  nn::Linear lin(400, 300);
  const double bound = 1.0 / std::sqrt(400.0);
  for (const Tensor& t : {lin.weight(), lin.bias()}) {
    auto v = t.to_vector<float>();
    double lo = 1, hi = -1, mean = 0;
    for (float x : v) {
      lo = std::min<double>(lo, x);
      hi = std::max<double>(hi, x);
      mean += x;
    }
    mean /= v.size();
    EXPECT_GE(lo, -bound);
    EXPECT_LE(hi, bound);
    // Uniform on [-b, b]: the extremes come close to the bounds, the mean close to 0.
    const double tol = v.size() > 1000 ? 0.01 : 0.05;
    EXPECT_LT(lo, -bound * (1 - tol));
    EXPECT_GT(hi, bound * (1 - tol));
    EXPECT_NEAR(mean, 0, 4 * bound / std::sqrt(3.0 * v.size()));
  }
  EXPECT_FALSE(nn::Linear(nn::LinearOptions(3, 2).bias(false)).bias().defined());
}

TEST(Activations, MatchTheOps) {
  manual_seed(4);
  Tensor x = randn({3, 5});
  EXPECT_TRUE(allclose(nn::ReLU()(x), relu(x)));
  EXPECT_TRUE(allclose(nn::LeakyReLU(0.3)(x), leaky_relu(x, 0.3)));
  EXPECT_TRUE(allclose(nn::Sigmoid()(x), sigmoid(x)));
  EXPECT_TRUE(allclose(nn::Tanh()(x), tanh(x)));
  EXPECT_TRUE(allclose(nn::GELU()(x), gelu(x)));
  EXPECT_TRUE(allclose(nn::Softmax(1)(x), softmax(x, 1)));
  EXPECT_TRUE(allclose(nn::LogSoftmax(0)(x), log_softmax(x, 0)));
  EXPECT_TRUE(nn::Identity()(x).shares_storage(x));
  // Spot values, independent of the ops.
  Tensor v = from_vector<float>({-2.0f, 0.5f});
  EXPECT_EQ(nn::ReLU()(v).to_vector<float>(), (std::vector<float>{0.0f, 0.5f}));
  EXPECT_EQ(nn::LeakyReLU(0.1)(v).to_vector<float>(), (std::vector<float>{-0.2f, 0.5f}));
  EXPECT_EQ(nn::Flatten()(zeros({2, 3, 4, 5})).shape(), Shape({2, 60}));
  EXPECT_EQ(nn::Flatten(0, 1)(zeros({2, 3, 4})).shape(), Shape({6, 4}));
}

TEST(Sequential, ConstructionFormsAndChaining) {
  auto l1 = std::make_shared<nn::Linear>(2, 3);
  auto l2 = std::make_shared<nn::Linear>(3, 1);
  nn::Sequential a{l1, std::make_shared<nn::Sigmoid>(), l2};
  nn::Sequential b(l1, std::make_shared<nn::Sigmoid>(), l2);
  nn::Sequential c;
  c.push_back(l1);
  c.push_back(std::make_shared<nn::Sigmoid>());
  c.push_back(l2);
  Tensor x = randn({4, 2});
  Tensor expected = l2->forward(sigmoid(l1->forward(x)));
  for (nn::Sequential* s : {&a, &b, &c}) {
    EXPECT_EQ(s->size(), 3u);
    EXPECT_TRUE(allclose(s->forward(x), expected));
    EXPECT_EQ(s->named_children()[2].first, "2");
  }
  EXPECT_EQ(a.named_parameters()[3].first, "2.bias");
}

// replace_child: a Sequential calls the new layer; a module holding a child in a member it does
// not re-point refuses, as do unknown names and null modules; nothing changes on refusal.
TEST(Module, ReplaceChild) {
  manual_seed(6);
  auto seq = std::make_shared<nn::Sequential>(std::make_shared<nn::Linear>(3, 4), std::make_shared<nn::ReLU>(),
                                              std::make_shared<nn::Linear>(4, 2));
  const Tensor x = randn({5, 3});
  auto tanh = std::make_shared<nn::Tanh>();
  EXPECT_TRUE(seq->accepts_child("1", *tanh));
  seq->replace_child("1", tanh);
  EXPECT_EQ((*seq)[1], tanh);
  EXPECT_EQ(seq->named_children()[1].second, tanh);
  EXPECT_TRUE(allclose(seq->forward(x), seq->at<nn::Linear>(2)->forward(magmadnn::tanh(seq->at<nn::Linear>(0)->forward(x)))));
  EXPECT_THAT(error_of([&] { seq->replace_child("7", tanh); }), HasSubstr("Sequential: replace_child: no child named '7'"));
  EXPECT_THAT(error_of([&] { seq->replace_child("0", nullptr); }), HasSubstr("replace_child('0') got a null module"));
  EXPECT_FALSE(seq->accepts_child("7", *tanh));

  Net net;
  auto head = net.head_;
  EXPECT_FALSE(net.accepts_child("head", nn::Linear(8, 2)));
  EXPECT_EQ(error_of([&] { net.replace_child("head", std::make_shared<nn::Linear>(8, 2)); }),
            "Net: replace_child: cannot put Linear(in_features=8, out_features=2, bias=true) in place of 'head' "
            "(it calls that child through a member of its own, which the swap would not reach or which cannot hold "
            "that module)");
  EXPECT_EQ(net.named_children()[1].second, head);  // unchanged
  // Inside Net's Sequential member, the layers can be replaced.
  net.features_->replace_child("1", std::make_shared<nn::Sigmoid>());
  EXPECT_TRUE(allclose(net.forward(ones({1, 4})),
                       mul(head->forward(sigmoid(net.features_->at<nn::Linear>(0)->forward(ones({1, 4})))), net.scale_)));
}

TEST(Sequential, GradientsReachEveryLayer) {
  manual_seed(5);
  nn::Sequential net(std::make_shared<nn::Linear>(3, 4), std::make_shared<nn::GELU>(),
                     std::make_shared<nn::Linear>(4, 2));
  net.to(kFloat64);
  Tensor x = randn({5, 3}, kFloat64);
  auto params = net.parameters();
  auto r =
      autograd::gradcheck([&](const std::vector<Tensor>&) { return sum(square(net.forward(x))); }, params);
  EXPECT_TRUE(r.ok) << r.message;
}

}  // namespace

namespace {

TEST(Dropout, TrainingMasksAndScalesEvalPassesThrough) {
  manual_seed(6);
  nn::Dropout drop(0.25);
  EXPECT_EQ(drop.name(), "Dropout(p=0.25)");
  Tensor x = ones({100, 100}).set_requires_grad();
  Tensor y = drop(x);
  auto v = y.to_vector<float>();
  int64_t zeros_count = 0;
  for (float e : v) {
    if (e == 0)
      ++zeros_count;
    else
      EXPECT_FLOAT_EQ(e, 1.0f / 0.75f);
  }
  EXPECT_NEAR(zeros_count / 10000.0, 0.25, 0.02);
  sum(y).backward();
  EXPECT_TRUE(allclose(x.grad(), y.detach()));  // the gradient carries the same mask and scale
  drop.eval();
  EXPECT_TRUE(drop(x).shares_storage(x));
  EXPECT_THROW(nn::Dropout(1.5), Error);
}

}  // namespace
