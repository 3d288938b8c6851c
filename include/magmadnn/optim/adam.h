// optim::Adam and optim::AdamW (PyTorch 1.13 semantics): Adam adds weight decay to the gradient
// (L2), AdamW decays the weights directly (decoupled, default 1e-2); both support AMSGrad.
#pragma once

#include <optional>
#include <utility>

#include "magmadnn/optim/optimizer.h"

namespace magmadnn::optim {

class AdamOptions : public OptimizerOptions {
 public:
  explicit AdamOptions(double lr = 1e-3) : OptimizerOptions(lr) {}
  std::shared_ptr<OptimizerOptions> clone() const override { return std::make_shared<AdamOptions>(*this); }

  using OptimizerOptions::lr;
  AdamOptions& lr(double v) {
    lr_ = v;
    return *this;
  }
  AdamOptions& betas(std::pair<double, double> v) {
    betas_ = v;
    return *this;
  }
  AdamOptions& eps(double v) {
    eps_ = v;
    return *this;
  }
  AdamOptions& weight_decay(double v) {
    weight_decay_ = v;
    return *this;
  }
  AdamOptions& amsgrad(bool v) {
    amsgrad_ = v;
    return *this;
  }
  std::pair<double, double> betas() const { return betas_; }
  double eps() const { return eps_; }
  // 0 for Adam and 1e-2 for AdamW unless set.
  double weight_decay() const { return weight_decay_.value_or(0.0); }
  bool has_weight_decay() const { return weight_decay_.has_value(); }
  bool amsgrad() const { return amsgrad_; }

 private:
  std::pair<double, double> betas_{0.9, 0.999};
  double eps_ = 1e-8;
  std::optional<double> weight_decay_;
  bool amsgrad_ = false;
};
using AdamWOptions = AdamOptions;

class Adam : public Optimizer {
 public:
  Adam(std::vector<ParamGroup> groups, const AdamOptions& defaults = AdamOptions());
  Adam(std::vector<Tensor> params, const AdamOptions& defaults = AdamOptions())
      : Adam(std::vector<ParamGroup>{ParamGroup(std::move(params))}, defaults) {}
  void step() override;
  std::string name() const override { return decoupled_ ? "AdamW" : "Adam"; }
  std::string replay_blocker() const override {
    return name() + "'s bias correction changes with every step";
  }

 protected:
  Adam(std::vector<ParamGroup> groups, const AdamOptions& defaults, bool decoupled);
  std::vector<std::string> state_names() const override {
    return {"exp_avg", "exp_avg_sq", "max_exp_avg_sq"};
  }

 private:
  bool decoupled_ = false;
};

class AdamW : public Adam {
 public:
  AdamW(std::vector<ParamGroup> groups, const AdamOptions& defaults = AdamOptions())
      : Adam(std::move(groups), defaults, /*decoupled=*/true) {}
  AdamW(std::vector<Tensor> params, const AdamOptions& defaults = AdamOptions())
      : AdamW(std::vector<ParamGroup>{ParamGroup(std::move(params))}, defaults) {}
};

}  // namespace magmadnn::optim
