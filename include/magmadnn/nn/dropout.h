// nn::Dropout: in training, zeroes each element with probability p and scales the rest by
// 1 / (1 - p) (inverted dropout, as PyTorch); in evaluation it passes the input through.
#pragma once

#include "magmadnn/nn/module.h"

namespace magmadnn::nn {

class Dropout : public Module {
 public:
  explicit Dropout(double p = 0.5);
  Tensor forward(const Tensor& x) override;
  std::string name() const override;
  double p() const { return p_; }

 private:
  double p_;
};

}  // namespace magmadnn::nn
