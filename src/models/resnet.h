// ResNet-18/34 with basic blocks (He et al. 2016), as in the model zoo (models/models.h).
// Residual additions are ordinary autograd additions.
#pragma once

#include "magmadnn/models/models.h"
#include "magmadnn/nn/nn.h"

namespace magmadnn::models {

// relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x)); the shortcut is the identity, or a 1x1
// convolution with stride plus BatchNorm where the shape changes.
class BasicBlock : public nn::Module {
 public:
  BasicBlock(int64_t in_channels, int64_t out_channels, int64_t stride);
  Tensor forward(const Tensor& x) override;
  std::string name() const override { return "BasicBlock"; }
  void fuse_for_inference() override;

 private:
  std::shared_ptr<nn::Conv2d> conv1_, conv2_;
  std::shared_ptr<nn::BatchNorm2d> bn1_, bn2_;
  std::shared_ptr<nn::Sequential> shortcut_;  // empty for the identity
  bool fused_ = false;
};

class ResNet : public nn::Module {
 public:
  ResNet(const std::vector<int>& blocks_per_stage, const ModelConfig& config);
  Tensor forward(const Tensor& x) override;
  std::string name() const override { return "ResNet"; }

 private:
  std::shared_ptr<nn::Sequential> stem_, layers_;
  std::shared_ptr<nn::Linear> fc_;
};

}  // namespace magmadnn::models
