// Fused optimizer updates over lists of parameters (Backend::*_step_group) and the optimizers
// that use them: bit for bit the results of the single-tensor kernels called once per parameter
// (the path every optimizer took before), for parameters of assorted sizes (0, 1, and more than a
// parallel chunk), step counts that differ within a group, mixed dtypes; and the list checks.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstring>
#include <functional>
#include <map>
#include <string>

#include "common/error_of.h"
#include "magmadnn/backend/backend.h"
#include "magmadnn/magmadnn.h"

using namespace magmadnn;
using magmadnn::testing::error_of;
using ::testing::HasSubstr;

namespace {

Backend& cpu() {
  return backend_for(Device::cpu());
}

const std::vector<int64_t> kSizes{5, 0, 1, 70001, 33, 1000, 2};

// Bitwise equality of two contiguous CPU tensors.
void expect_identical(const Tensor& got, const Tensor& want, const std::string& what) {
  ASSERT_EQ(got.defined(), want.defined()) << what;
  if (!want.defined()) return;
  ASSERT_EQ(got.shape(), want.shape()) << what;
  ASSERT_EQ(got.dtype(), want.dtype()) << what;
  const size_t bytes = static_cast<size_t>(want.numel()) * (want.dtype() == kFloat64 ? 8 : 4);
  EXPECT_EQ(std::memcmp(got.contiguous().raw_data(), want.contiguous().raw_data(), bytes), 0)
      << what << " differs from the per-parameter result";
}

// n tensors per entry (param, grad, state...), random, of kSizes, in dtype; `positive` marks
// state that must be >= 0 (second moments, sums).
std::vector<std::vector<Tensor>> make_entries(DType dtype, int n, const std::vector<bool>& positive) {
  std::vector<std::vector<Tensor>> entries;
  for (int64_t size : kSizes) {
    std::vector<Tensor> e;
    for (int k = 0; k < n; ++k) {
      Tensor t = randn({size}, dtype);
      e.push_back(positive[k] ? abs(t) : t);
    }
    entries.push_back(e);
  }
  return entries;
}

std::vector<std::vector<Tensor>> clone_all(const std::vector<std::vector<Tensor>>& entries) {
  std::vector<std::vector<Tensor>> out;
  for (const auto& e : entries) {
    std::vector<Tensor> c;
    for (const Tensor& t : e) c.push_back(t.defined() ? t.clone() : t);
    out.push_back(c);
  }
  return out;
}

// Runs `steps` updates both ways (group on one copy, single-tensor kernels on another) with
// fresh gradients (entry[1]) each step, and compares every tensor bitwise.
void check_group_equals_single(const std::string& name, DType dtype, int n, const std::vector<bool>& positive,
                               const std::function<void(std::vector<std::vector<Tensor>>&, int)>& group_step,
                               const std::function<void(std::vector<Tensor>&, int)>& single_step) {
  manual_seed(17);
  auto a = make_entries(dtype, n, positive);
  auto b = clone_all(a);
  for (int it = 0; it < 3; ++it) {
    for (size_t k = 0; k < a.size(); ++k) {
      a[k][1] = randn(a[k][0].shape(), dtype);
      b[k][1] = a[k][1].clone();
    }
    group_step(a, it);
    for (auto& e : b) single_step(e, it);
  }
  for (size_t k = 0; k < a.size(); ++k)
    for (int j = 0; j < n; ++j)
      expect_identical(a[k][j], b[k][j],
                       name + " " + detail::str_cat(dtype) + " entry " + std::to_string(k) + " tensor " +
                           std::to_string(j));
}

TEST(OptimGroup, BackendListsMatchSingleTensorKernelsBitForBit) {
  for (DType dt : {kFloat32, kFloat64}) {
    for (bool nesterov : {false, true}) {
      for (double momentum : {0.0, 0.9}) {
        if (nesterov && momentum == 0) continue;
        auto params = [&](int it) {
          return SgdParams{0.1, momentum, nesterov ? 0.0 : 0.1, 1e-3, nesterov, it == 0};
        };
        check_group_equals_single(
            "sgd", dt, 3, {false, false, false},
            [&](auto& es, int it) {
              std::vector<SgdTensors> list;
              for (auto& e : es) list.push_back({e[0], e[1], momentum != 0 ? e[2] : Tensor()});
              cpu().sgd_step_group(list, params(it));
            },
            [&](std::vector<Tensor>& e, int it) {
              Tensor none;
              cpu().sgd_step(e[0], e[1], momentum != 0 ? e[2] : none, params(it));
            });
      }
    }
    for (bool amsgrad : {false, true}) {
      for (bool adamw : {false, true}) {
        auto params = [&](int it) {
          return AdamParams{1e-2, 0.9, 0.999, 1e-8, 1e-2, adamw, amsgrad, it + 1};
        };
        check_group_equals_single(
            adamw ? "adamw" : "adam", dt, 5, {false, false, false, true, true},
            [&](auto& es, int it) {
              std::vector<AdamTensors> list;
              for (auto& e : es) list.push_back({e[0], e[1], e[2], e[3], amsgrad ? e[4] : Tensor()});
              cpu().adam_step_group(list, params(it));
            },
            [&](std::vector<Tensor>& e, int it) {
              Tensor none;
              cpu().adam_step(e[0], e[1], e[2], e[3], amsgrad ? e[4] : none, params(it));
            });
      }
    }
    auto ada = [](int it) { return AdagradParams{1e-2, 1e-3, 1e-4, 1e-10, it + 1}; };
    check_group_equals_single(
        "adagrad", dt, 3, {false, false, true},
        [&](auto& es, int it) {
          std::vector<AdagradTensors> list;
          for (auto& e : es) list.push_back({e[0], e[1], e[2]});
          cpu().adagrad_step_group(list, ada(it));
        },
        [&](std::vector<Tensor>& e, int it) { cpu().adagrad_step(e[0], e[1], e[2], ada(it)); });
    for (bool centered : {false, true}) {
      for (double momentum : {0.0, 0.9}) {
        const RmspropParams p{1e-2, 0.99, 1e-8, 1e-4, momentum, centered};
        check_group_equals_single(
            "rmsprop", dt, 5, {false, false, true, false, false},
            [&](auto& es, int) {
              std::vector<RmspropTensors> list;
              for (auto& e : es) {
                // centered: grad_avg small against square_avg, as it is in training
                list.push_back(
                    {e[0], e[1], e[2], momentum > 0 ? e[3] : Tensor(), centered ? e[4] : Tensor()});
              }
              cpu().rmsprop_step_group(list, p);
            },
            [&](std::vector<Tensor>& e, int) {
              Tensor none1, none2;
              cpu().rmsprop_step(e[0], e[1], e[2], momentum > 0 ? e[3] : none1, centered ? e[4] : none2, p);
            });
      }
    }
  }
}

// The optimizers against a per-parameter reference built from the single-tensor kernels, with
// the optimizer's own rules for state (created on first use, SGD's first step, per-parameter
// step counts). Parameters of mixed dtypes in two groups; some skip steps (no gradient), so
// step counts differ inside a group and a group needs several fused calls.
struct Reference {
  std::map<std::string, Tensor> buffers;
  int64_t step = 0;
};

Tensor& ref_buffer(Reference& r, const std::string& name, const Tensor& p, double init = 0.0) {
  auto it = r.buffers.find(name);
  if (it != r.buffers.end()) return it->second;
  return r.buffers.emplace(name, full(p.shape(), init, p.dtype())).first->second;
}

void check_optimizer(
    const std::string& name,
    const std::function<std::unique_ptr<optim::Optimizer>(std::vector<optim::ParamGroup>)>& make,
    const std::function<void(Tensor&, const Tensor&, Reference&, size_t group)>& reference,
    const std::vector<std::string>& buffer_names) {
  manual_seed(5);
  std::vector<std::vector<Tensor>> params(2), refs(2);
  for (size_t g = 0; g < 2; ++g) {
    for (size_t k = 0; k < kSizes.size(); ++k) {
      const DType dt = (k + g) % 3 == 0 ? kFloat64 : kFloat32;
      Tensor p = randn({kSizes[k]}, dt);
      refs[g].push_back(p.clone());
      params[g].push_back(p.set_requires_grad());
    }
  }
  std::vector<optim::ParamGroup> groups{optim::ParamGroup(params[0]), optim::ParamGroup(params[1])};
  std::unique_ptr<optim::Optimizer> opt = make(groups);
  std::vector<std::vector<Reference>> state(2, std::vector<Reference>(kSizes.size()));
  for (int it = 0; it < 4; ++it) {
    for (size_t g = 0; g < 2; ++g) {
      for (size_t k = 0; k < kSizes.size(); ++k) {
        // parameter k of group g has no gradient on step it when (k + g + it) % 4 == 1
        if ((k + g + it) % 4 == 1) {
          params[g][k].zero_grad();
          continue;
        }
        const Tensor grad = randn({kSizes[k]}, params[g][k].dtype());
        params[g][k].set_grad(grad.clone());
        reference(refs[g][k], grad, state[g][k], g);
        ++state[g][k].step;
      }
    }
    opt->step();
  }
  const auto sd = opt->state_dict();
  for (size_t g = 0; g < 2; ++g) {
    for (size_t k = 0; k < kSizes.size(); ++k) {
      const std::string what = name + " group " + std::to_string(g) + " parameter " + std::to_string(k);
      expect_identical(params[g][k].detach(), refs[g][k], what);
      EXPECT_EQ(opt->step_count(g, k), state[g][k].step) << what;
      const std::string prefix = "state." + std::to_string(g) + "." + std::to_string(k) + ".";
      for (const std::string& b : buffer_names) {
        ASSERT_EQ(sd.count(prefix + b), state[g][k].buffers.count(b)) << what << " " << b;
        if (sd.count(prefix + b))
          expect_identical(sd.at(prefix + b), state[g][k].buffers.at(b), what + " " + b);
      }
    }
  }
}

TEST(OptimGroup, OptimizersMatchPerParameterKernelsBitForBit) {
  check_optimizer(
      "SGD",
      [](std::vector<optim::ParamGroup> groups) {
        groups[1].options =
            std::make_shared<optim::SGDOptions>(optim::SGDOptions(0.05).momentum(0.8).nesterov(true));
        return std::make_unique<optim::SGD>(
            groups, optim::SGDOptions(0.1).momentum(0.9).dampening(0.1).weight_decay(1e-3));
      },
      [](Tensor& p, const Tensor& grad, Reference& r, size_t g) {
        const bool first = !r.buffers.count("momentum_buffer");
        Tensor& buf = ref_buffer(r, "momentum_buffer", p);
        const SgdParams sp =
            g == 0 ? SgdParams{0.1, 0.9, 0.1, 1e-3, false, first} : SgdParams{0.05, 0.8, 0, 0, true, first};
        cpu().sgd_step(p, grad, buf, sp);
      },
      {"momentum_buffer"});
  for (bool decoupled : {false, true}) {
    check_optimizer(
        decoupled ? "AdamW" : "Adam",
        [decoupled](std::vector<optim::ParamGroup> groups) -> std::unique_ptr<optim::Optimizer> {
          groups[1].options = std::make_shared<optim::AdamOptions>(optim::AdamOptions(0.02).amsgrad(true));
          const auto o = optim::AdamOptions(0.01).weight_decay(1e-2);
          if (decoupled) return std::make_unique<optim::AdamW>(groups, o);
          return std::make_unique<optim::Adam>(groups, o);
        },
        [decoupled](Tensor& p, const Tensor& grad, Reference& r, size_t g) {
          Tensor& m = ref_buffer(r, "exp_avg", p);
          Tensor& v = ref_buffer(r, "exp_avg_sq", p);
          Tensor none;
          Tensor& vmax = g == 1 ? ref_buffer(r, "max_exp_avg_sq", p) : none;
          const double lr = g == 0 ? 0.01 : 0.02;
          // AdamW's default weight decay (1e-2) applies to the group without an explicit one
          const double wd = g == 0 ? 1e-2 : (decoupled ? 1e-2 : 0.0);
          cpu().adam_step(p, grad, m, v, vmax,
                          AdamParams{lr, 0.9, 0.999, 1e-8, wd, decoupled, g == 1, r.step + 1});
        },
        {"exp_avg", "exp_avg_sq", "max_exp_avg_sq"});
  }
  check_optimizer(
      "Adagrad",
      [](std::vector<optim::ParamGroup> groups) {
        return std::make_unique<optim::Adagrad>(
            groups,
            optim::AdagradOptions(0.1).lr_decay(1e-2).weight_decay(1e-3).initial_accumulator_value(0.5));
      },
      [](Tensor& p, const Tensor& grad, Reference& r, size_t) {
        Tensor& s = ref_buffer(r, "sum", p, 0.5);
        cpu().adagrad_step(p, grad, s, AdagradParams{0.1, 1e-2, 1e-3, 1e-10, r.step + 1});
      },
      {"sum"});
  check_optimizer(
      "RMSprop",
      [](std::vector<optim::ParamGroup> groups) {
        groups[1].options = std::make_shared<optim::RMSpropOptions>(optim::RMSpropOptions(0.01));
        return std::make_unique<optim::RMSprop>(
            groups, optim::RMSpropOptions(0.01).momentum(0.9).centered(true).weight_decay(1e-4));
      },
      [](Tensor& p, const Tensor& grad, Reference& r, size_t g) {
        Tensor& sq = ref_buffer(r, "square_avg", p);
        Tensor none1, none2;
        Tensor& buf = g == 0 ? ref_buffer(r, "momentum_buffer", p) : none1;
        Tensor& ga = g == 0 ? ref_buffer(r, "grad_avg", p) : none2;
        const RmspropParams rp = g == 0 ? RmspropParams{0.01, 0.99, 1e-8, 1e-4, 0.9, true}
                                        : RmspropParams{0.01, 0.99, 1e-8, 0, 0, false};
        cpu().rmsprop_step(p, grad, sq, buf, ga, rp);
      },
      {"square_avg", "momentum_buffer", "grad_avg"});
}

TEST(OptimGroup, BadListsNameTheParameterAndChangeNothing) {
  const Tensor w0 = randn({3}), w1 = randn({2, 2});
  auto run = [&](std::vector<SgdTensors> list, const SgdParams& p) {
    return error_of([&] { cpu().sgd_step_group(list, p); });
  };
  const SgdParams plain{0.1, 0, 0, 0, false, false}, mom{0.1, 0.9, 0, 0, false, true};
  Tensor a = w0.clone();
  EXPECT_THAT(run({{a, ones({3})}, {w1.clone(), ones({4})}}, plain),
              HasSubstr("SGD: parameter 1 of 2, shape (2, 2): gradient is (4) float32 on cpu"));
  EXPECT_EQ(a.to_vector<float>(), w0.to_vector<float>());  // parameter 0 was not updated
  EXPECT_THAT(run({{a, ones({3})}, {w1.clone(), ones({2, 2}, kFloat64)}}, plain),
              HasSubstr("parameter 1 of 2, shape (2, 2): gradient is (2, 2) float64"));
  EXPECT_THAT(run({{a, ones({3})}, {w1.to(kFloat64), ones({2, 2}, kFloat64)}}, plain),
              HasSubstr("SGD: parameter 1 of 2, shape (2, 2) is float64 on cpu, but parameter 0 is float32"));
  EXPECT_THAT(run({{a, ones({3}), zeros({3})}, {w1.clone(), ones({2, 2})}}, mom),
              HasSubstr("SGD: parameter 1 of 2, shape (2, 2): momentum_buffer is undefined"));
  EXPECT_THAT(run({{a, Tensor()}}, plain),
              HasSubstr("SGD: parameter 0 of 1, shape (3): gradient is undefined"));
  EXPECT_THAT(run({{randn({4, 2}).transpose(0, 1), ones({2, 4})}}, plain), HasSubstr("is not contiguous"));
  EXPECT_EQ(a.to_vector<float>(), w0.to_vector<float>());
  std::vector<AdamTensors> adam{{a, ones({3}), zeros({3}), zeros({3}), Tensor()}};
  EXPECT_THAT(error_of([&] {
                cpu().adam_step_group(adam, AdamParams{0.1, 0.9, 0.999, 1e-8, 0, true, true, 1});
              }),
              HasSubstr("AdamW: parameter 0 of 1, shape (3): max_exp_avg_sq is undefined"));
  std::vector<RmspropTensors> rms{{a, ones({3}), zeros({3}), Tensor(), zeros({2})}};
  EXPECT_THAT(error_of([&] {
                cpu().rmsprop_step_group(rms, RmspropParams{0.1, 0.99, 1e-8, 0, 0, true});
              }),
              HasSubstr("RMSprop: parameter 0 of 1, shape (3): grad_avg is (2) float32 on cpu"));
  std::vector<AdagradTensors> empty;
  cpu().adagrad_step_group(empty, AdagradParams{0.1, 0, 0, 1e-10, 1});  // an empty list is fine
}

}  // namespace
