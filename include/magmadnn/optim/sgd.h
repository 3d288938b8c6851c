// optim::SGD: stochastic gradient descent with momentum, dampening, Nesterov momentum and L2
// weight decay, with PyTorch's update rule (the momentum buffer starts as the first gradient).
#pragma once

#include "magmadnn/optim/optimizer.h"

namespace magmadnn::optim {

class SGDOptions : public OptimizerOptions {
 public:
  explicit SGDOptions(double lr) : OptimizerOptions(lr) {}
  std::shared_ptr<OptimizerOptions> clone() const override { return std::make_shared<SGDOptions>(*this); }

  using OptimizerOptions::lr;
  SGDOptions& lr(double v) {
    lr_ = v;
    return *this;
  }
  SGDOptions& momentum(double v) {
    momentum_ = v;
    return *this;
  }
  SGDOptions& dampening(double v) {
    dampening_ = v;
    return *this;
  }
  SGDOptions& weight_decay(double v) {
    weight_decay_ = v;
    return *this;
  }
  SGDOptions& nesterov(bool v) {
    nesterov_ = v;
    return *this;
  }
  double momentum() const { return momentum_; }
  double dampening() const { return dampening_; }
  double weight_decay() const { return weight_decay_; }
  bool nesterov() const { return nesterov_; }

 private:
  double momentum_ = 0, dampening_ = 0, weight_decay_ = 0;
  bool nesterov_ = false;
};

class SGD : public Optimizer {
 public:
  SGD(std::vector<ParamGroup> groups, const SGDOptions& defaults);
  SGD(std::vector<Tensor> params, const SGDOptions& defaults)
      : SGD(std::vector<ParamGroup>{ParamGroup(std::move(params))}, defaults) {}
  void step() override;
  std::string name() const override { return "SGD"; }
  // Its scalars are the same every step after the first (which starts the momentum buffer).
  std::string replay_blocker() const override { return ""; }

 protected:
  std::vector<std::string> state_names() const override { return {"momentum_buffer"}; }
};

}  // namespace magmadnn::optim
