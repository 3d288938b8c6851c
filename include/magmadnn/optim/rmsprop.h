// optim::RMSprop (PyTorch 1.13): divides by a running RMS of the gradients; optional momentum,
// centering (subtracting the running mean of the gradients) and L2 weight decay.
#pragma once

#include "magmadnn/optim/optimizer.h"

namespace magmadnn::optim {

class RMSpropOptions : public OptimizerOptions {
 public:
  explicit RMSpropOptions(double lr = 1e-2) : OptimizerOptions(lr) {}
  std::shared_ptr<OptimizerOptions> clone() const override { return std::make_shared<RMSpropOptions>(*this); }

  using OptimizerOptions::lr;
  RMSpropOptions& lr(double v) {
    lr_ = v;
    return *this;
  }
  RMSpropOptions& alpha(double v) {
    alpha_ = v;
    return *this;
  }
  RMSpropOptions& eps(double v) {
    eps_ = v;
    return *this;
  }
  RMSpropOptions& weight_decay(double v) {
    weight_decay_ = v;
    return *this;
  }
  RMSpropOptions& momentum(double v) {
    momentum_ = v;
    return *this;
  }
  RMSpropOptions& centered(bool v) {
    centered_ = v;
    return *this;
  }
  double alpha() const { return alpha_; }
  double eps() const { return eps_; }
  double weight_decay() const { return weight_decay_; }
  double momentum() const { return momentum_; }
  bool centered() const { return centered_; }

 private:
  double alpha_ = 0.99, eps_ = 1e-8, weight_decay_ = 0, momentum_ = 0;
  bool centered_ = false;
};

class RMSprop : public Optimizer {
 public:
  RMSprop(std::vector<ParamGroup> groups, const RMSpropOptions& defaults = RMSpropOptions());
  RMSprop(std::vector<Tensor> params, const RMSpropOptions& defaults = RMSpropOptions())
      : RMSprop(std::vector<ParamGroup>{ParamGroup(std::move(params))}, defaults) {}
  void step() override;
  std::string name() const override { return "RMSprop"; }
  std::string replay_blocker() const override { return ""; }

 protected:
  std::vector<std::string> state_names() const override {
    return {"square_avg", "momentum_buffer", "grad_avg"};
  }
};

}  // namespace magmadnn::optim
