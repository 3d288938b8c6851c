// Optimizers against PyTorch 1.13: each case of tests/data/golden/optim.json starts from fixed
// parameters, applies a fixed sequence of gradients and must reproduce torch's parameters after
// every step; resuming from a state dict halfway must give the same trajectory.
#include <gtest/gtest.h>

#include "golden/golden.h"
#include "magmadnn/magmadnn.h"

using namespace magmadnn;
using json = nlohmann::json;

namespace {

// Merged options of a group: the case's defaults overridden by the group's entries (PyTorch's
// dict semantics), turned into a complete options object (libtorch's semantics).
json merged(const json& c, size_t group) {
  json o = c["defaults"];
  for (auto& [k, v] : c["groups"][group]["options"].items()) o[k] = v;
  return o;
}

template <class O>
O make_options(const json& o);

template <>
optim::SGDOptions make_options(const json& o) {
  return optim::SGDOptions(o.at("lr").get<double>())
      .momentum(o.value("momentum", 0.0))
      .dampening(o.value("dampening", 0.0))
      .weight_decay(o.value("weight_decay", 0.0))
      .nesterov(o.value("nesterov", false));
}

template <>
optim::AdamOptions make_options(const json& o) {
  optim::AdamOptions a(o.value("lr", 1e-3));
  if (o.contains("betas")) a.betas({o["betas"][0].get<double>(), o["betas"][1].get<double>()});
  if (o.contains("eps")) a.eps(o["eps"].get<double>());
  if (o.contains("weight_decay")) a.weight_decay(o["weight_decay"].get<double>());
  return a.amsgrad(o.value("amsgrad", false));
}

template <>
optim::AdagradOptions make_options(const json& o) {
  return optim::AdagradOptions(o.value("lr", 1e-2))
      .lr_decay(o.value("lr_decay", 0.0))
      .weight_decay(o.value("weight_decay", 0.0))
      .eps(o.value("eps", 1e-10))
      .initial_accumulator_value(o.value("initial_accumulator_value", 0.0));
}

template <>
optim::RMSpropOptions make_options(const json& o) {
  return optim::RMSpropOptions(o.value("lr", 1e-2))
      .alpha(o.value("alpha", 0.99))
      .eps(o.value("eps", 1e-8))
      .weight_decay(o.value("weight_decay", 0.0))
      .momentum(o.value("momentum", 0.0))
      .centered(o.value("centered", false));
}

template <class Opt, class O>
std::unique_ptr<optim::Optimizer> build(const json& c, const std::vector<Tensor>& params) {
  std::vector<optim::ParamGroup> groups;
  for (size_t g = 0; g < c["groups"].size(); ++g) {
    std::vector<Tensor> ps;
    for (int i : c["groups"][g]["params"].get<std::vector<int>>()) ps.push_back(params[i]);
    groups.emplace_back(ps, make_options<O>(merged(c, g)));
  }
  return std::make_unique<Opt>(groups, make_options<O>(c["defaults"]));
}

std::unique_ptr<optim::Optimizer> make_optimizer(const json& c, const std::vector<Tensor>& params) {
  const std::string kind = c["optimizer"];
  if (kind == "sgd") return build<optim::SGD, optim::SGDOptions>(c, params);
  if (kind == "adam") return build<optim::Adam, optim::AdamOptions>(c, params);
  if (kind == "adamw") return build<optim::AdamW, optim::AdamOptions>(c, params);
  if (kind == "adagrad") return build<optim::Adagrad, optim::AdagradOptions>(c, params);
  if (kind == "rmsprop") return build<optim::RMSprop, optim::RMSpropOptions>(c, params);
  throw std::runtime_error("unknown optimizer " + kind);
}

DType dtype_of_case(const json& c) {
  return c["dtype"] == "float64" ? kFloat64 : kFloat32;
}

std::vector<Tensor> make_params(const json& c, size_t from_step) {
  std::vector<Tensor> params;
  for (size_t i = 0; i < c["shapes"].size(); ++i) {
    const json& values = from_step == 0 ? c["init"][i] : c["params"][from_step - 1][i];
    params.push_back(
        golden::tensor_of(values, golden::shape_of(c["shapes"][i]), dtype_of_case(c)).set_requires_grad());
  }
  return params;
}

void set_grads(const json& c, size_t step, std::vector<Tensor>& params) {
  for (size_t i = 0; i < params.size(); ++i) {
    const json& g = c["grads"][step][i];
    if (g.is_null())
      params[i].zero_grad();
    else
      params[i].set_grad(golden::tensor_of(g, params[i].shape(), params[i].dtype()));
  }
}

// float32 cases accumulate rounding differences over the steps; float64 ones match far closer.
double rtol_of(const json& c) {
  return dtype_of_case(c) == kFloat64 ? 1e-9 : 1e-5;
}
double atol_of(const json& c) {
  return dtype_of_case(c) == kFloat64 ? 1e-12 : 1e-6;
}

class OptimGolden : public ::testing::TestWithParam<std::string> {
 protected:
  static const json& cases() {
    static const json j = golden::load("optim.json")["cases"];
    return j;
  }
  const json& the_case() const {
    for (const auto& c : cases())
      if (c["name"] == GetParam()) return c;
    throw std::runtime_error("no golden case " + GetParam());
  }
};

TEST_P(OptimGolden, MatchesTorchEveryStep) {
  const json& c = the_case();
  std::vector<Tensor> params = make_params(c, 0);
  auto opt = make_optimizer(c, params);
  for (size_t s = 0; s < c["grads"].size(); ++s) {
    set_grads(c, s, params);
    opt->step();
    for (size_t i = 0; i < params.size(); ++i)
      ASSERT_TRUE(golden::close_to(params[i], c["params"][s][i], rtol_of(c), atol_of(c)))
          << c["name"] << ": parameter " << i << " after step " << s + 1;
  }
}

TEST_P(OptimGolden, ResumesFromStateDict) {
  const json& c = the_case();
  const size_t half = c["grads"].size() / 2;
  std::vector<Tensor> params = make_params(c, 0);
  auto opt = make_optimizer(c, params);
  for (size_t s = 0; s < half; ++s) {
    set_grads(c, s, params);
    opt->step();
  }
  const auto sd = opt->state_dict();
  // A fresh optimizer over fresh parameters holding the step-`half` values (as after loading a
  // model checkpoint); the learning rates in the dict win over the constructor's.
  std::vector<Tensor> resumed = make_params(c, half);
  auto opt2 = make_optimizer(c, resumed);
  opt2->set_lr(123.0);
  opt2->load_state_dict(sd);
  for (size_t g = 0; g < opt->num_groups(); ++g) EXPECT_EQ(opt2->lr(g), opt->lr(g));
  for (size_t s = half; s < c["grads"].size(); ++s) {
    set_grads(c, s, resumed);
    opt2->step();
    for (size_t i = 0; i < resumed.size(); ++i)
      ASSERT_TRUE(golden::close_to(resumed[i], c["params"][s][i], rtol_of(c), atol_of(c)))
          << c["name"] << ": resumed parameter " << i << " after step " << s + 1;
  }
}

std::vector<std::string> case_names() {
  std::vector<std::string> names;
  const json fixture = golden::load("optim.json");
  for (const auto& c : fixture["cases"]) names.push_back(c["name"]);
  return names;
}

INSTANTIATE_TEST_SUITE_P(Torch113, OptimGolden, ::testing::ValuesIn(case_names()),
                         [](const auto& info) { return info.param; });

TEST(OptimGoldenFixture, CoversEveryOptimizer) {
  std::set<std::string> kinds;
  const json fixture = golden::load("optim.json");
  for (const auto& c : fixture["cases"]) kinds.insert(c["optimizer"].get<std::string>());
  EXPECT_EQ(kinds, (std::set<std::string>{"sgd", "adam", "adamw", "adagrad", "rmsprop"}));
}

}  // namespace
