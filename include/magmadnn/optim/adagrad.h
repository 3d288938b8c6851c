// optim::Adagrad (PyTorch 1.13): per-element learning rates from the running sum of squared
// gradients, with learning-rate decay over steps and L2 weight decay.
#pragma once

#include "magmadnn/optim/optimizer.h"

namespace magmadnn::optim {

class AdagradOptions : public OptimizerOptions {
 public:
  explicit AdagradOptions(double lr = 1e-2) : OptimizerOptions(lr) {}
  std::shared_ptr<OptimizerOptions> clone() const override { return std::make_shared<AdagradOptions>(*this); }

  using OptimizerOptions::lr;
  AdagradOptions& lr(double v) {
    lr_ = v;
    return *this;
  }
  AdagradOptions& lr_decay(double v) {
    lr_decay_ = v;
    return *this;
  }
  AdagradOptions& weight_decay(double v) {
    weight_decay_ = v;
    return *this;
  }
  AdagradOptions& eps(double v) {
    eps_ = v;
    return *this;
  }
  AdagradOptions& initial_accumulator_value(double v) {
    initial_accumulator_value_ = v;
    return *this;
  }
  double lr_decay() const { return lr_decay_; }
  double weight_decay() const { return weight_decay_; }
  double eps() const { return eps_; }
  double initial_accumulator_value() const { return initial_accumulator_value_; }

 private:
  double lr_decay_ = 0, weight_decay_ = 0, eps_ = 1e-10, initial_accumulator_value_ = 0;
};

class Adagrad : public Optimizer {
 public:
  Adagrad(std::vector<ParamGroup> groups, const AdagradOptions& defaults = AdagradOptions());
  Adagrad(std::vector<Tensor> params, const AdagradOptions& defaults = AdagradOptions())
      : Adagrad(std::vector<ParamGroup>{ParamGroup(std::move(params))}, defaults) {}
  void step() override;
  std::string name() const override { return "Adagrad"; }
  std::string replay_blocker() const override;  // lr_decay changes the step size every step

 protected:
  std::vector<std::string> state_names() const override { return {"sum"}; }
};

}  // namespace magmadnn::optim
