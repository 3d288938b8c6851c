// ResNet-18/34 with basic blocks (He et al. 2016), the model zoo's "resnet18" and "resnet34"
// (models/models.h). Public so that applications can build other depths or reach into blocks.
// Residual additions are ordinary autograd additions.
#pragma once

#include <vector>

#include "magmadnn/models/models.h"
#include "magmadnn/nn/nn.h"

namespace magmadnn::models {

// relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x)); the shortcut is the identity (an empty
// Sequential), or a 1x1 convolution with stride plus BatchNorm ("shortcut.0", "shortcut.1")
// where the shape changes. Convolutions have no bias, as BatchNorm follows each.
class BasicBlock : public nn::Module {
 public:
  BasicBlock(int64_t in_channels, int64_t out_channels, int64_t stride);
  // x: (N, in, H, W) -> (N, out, ceil(H / stride), ceil(W / stride))
  Tensor forward(const Tensor& x) override;
  std::string name() const override;  // "BasicBlock(64, 128, stride=2)"
  // Folds bn1 into conv1 (with the ReLU fused), bn2 into conv2 and the shortcut's BatchNorm into
  // its convolution; the folded BatchNorms are replaced by Identity.
  void fuse_for_inference() override;
  bool fused() const { return fused_; }

  nn::Conv2d& conv1() { return *conv1_; }
  nn::Conv2d& conv2() { return *conv2_; }
  // BatchNorm2d, or what replaced it (a dist::SyncBatchNorm after convert_sync_batchnorm).
  nn::BatchNormBase& bn1() { return *bn1_; }
  nn::BatchNormBase& bn2() { return *bn2_; }
  nn::Sequential& shortcut() { return *shortcut_; }

 protected:
  // bn1 and bn2 may be replaced by another batch norm (replace_child) until fused.
  bool child_replaceable(const std::string& name, const Module& module) const override;
  void child_replaced(const std::string& name, const std::shared_ptr<Module>& module) override;

 private:
  int64_t in_, out_, stride_;
  std::shared_ptr<nn::Conv2d> conv1_, conv2_;
  std::shared_ptr<nn::BatchNormBase> bn1_, bn2_;
  std::shared_ptr<nn::Sequential> shortcut_;  // empty for the identity
  bool fused_ = false;
};

// stem -> layers (the blocks of all stages, "layers.0" .. ) -> global average pool -> fc.
// Stage s has width base_width * 2^s (64 * 2^s by default); its first block has stride 2 (except stage 0) and a projection.
class ResNet : public nn::Module {
 public:
  // blocks_per_stage: {2, 2, 2, 2} for ResNet-18, {3, 4, 6, 3} for ResNet-34 (1 to 4 stages).
  ResNet(const std::vector<int>& blocks_per_stage, const ModelConfig& config);
  // x: (N, C, H, W) -> features (N, width, h, w) -> global average (N, width) -> logits (N, classes)
  Tensor forward(const Tensor& x) override;
  std::string name() const override;

  // The same network as a Sequential over the same module objects: stem, every block,
  // AdaptiveAvgPool2d(1), Flatten, fc (for pipeline parallelism, which splits a Sequential into
  // stages). Training either one trains both; their state-dict names differ ("0.0.weight" for
  // "stem.0.weight"), so map names through the shared tensors when saving.
  std::shared_ptr<nn::Sequential> as_sequential();
  nn::Sequential& stem() { return *stem_; }
  nn::Sequential& layers() { return *layers_; }
  nn::Linear& fc() { return *fc_; }

 private:
  std::vector<int> blocks_;
  ModelConfig config_;
  std::shared_ptr<nn::Sequential> stem_, layers_;
  std::shared_ptr<nn::Linear> fc_;
};

}  // namespace magmadnn::models
