// ResNet-18/34 for the model zoo; see models/resnet.h. The layer layout and names follow
// ../shared/bench/torch_ref.py's ResNet18 (and torchvision for the ImageNet stem), so parameter
// counts and state dicts line up with PyTorch's.
#include "magmadnn/models/resnet.h"

#include "magmadnn/nn/fusion.h"
#include "magmadnn/ops/ops.h"

namespace magmadnn::models {

namespace {
std::shared_ptr<nn::Conv2d> conv(int64_t in, int64_t out, int64_t kernel, int64_t stride, int64_t padding) {
  return std::make_shared<nn::Conv2d>(
      nn::Conv2dOptions(in, out, kernel).stride(stride).padding(padding).bias(false));
}
}  // namespace

BasicBlock::BasicBlock(int64_t in, int64_t out, int64_t stride) : in_(in), out_(out), stride_(stride) {
  MAGMADNN_CHECK(in > 0 && out > 0 && stride > 0,
                 "BasicBlock: channels and stride must be positive, got in=", in, ", out=", out,
                 ", stride=", stride);
  conv1_ = register_module("conv1", conv(in, out, 3, stride, 1));
  bn1_ = register_module("bn1", std::make_shared<nn::BatchNorm2d>(out));
  conv2_ = register_module("conv2", conv(out, out, 3, 1, 1));
  bn2_ = register_module("bn2", std::make_shared<nn::BatchNorm2d>(out));
  shortcut_ = register_module("shortcut", std::make_shared<nn::Sequential>());
  if (stride != 1 || in != out) {
    shortcut_->push_back(conv(in, out, 1, stride, 0));
    shortcut_->push_back(std::make_shared<nn::BatchNorm2d>(out));
  }
}

std::string BasicBlock::name() const {
  return detail::str_cat("BasicBlock(", in_, ", ", out_, ", stride=", stride_, ")");
}

Tensor BasicBlock::forward(const Tensor& x) {
  // x: (N, in, H, W) -> (N, out, H / stride, W / stride)
  Tensor y = (*conv1_)(x);
  if (!fused_) y = relu((*bn1_)(y));  // fused: bn1 is in conv1's weights, the ReLU in conv1
  y = (*conv2_)(y);
  if (!fused_) y = (*bn2_)(y);
  Tensor skip = shortcut_->empty() ? x : (*shortcut_)(x);
  return relu(add(y, skip));
}

bool BasicBlock::child_replaceable(const std::string& name, const Module& module) const {
  return !fused_ && (name == "bn1" || name == "bn2") && dynamic_cast<const nn::BatchNormBase*>(&module) != nullptr;
}

void BasicBlock::child_replaced(const std::string& name, const std::shared_ptr<Module>& module) {
  (name == "bn1" ? bn1_ : bn2_) = std::dynamic_pointer_cast<nn::BatchNormBase>(module);
}

void BasicBlock::fuse_for_inference() {
  if (fused_) return;
  shortcut_->fuse_for_inference();  // its Conv2d + BatchNorm2d fold like any Sequential's
  nn::fold_batch_norm(*conv1_, *bn1_);
  nn::fold_batch_norm(*conv2_, *bn2_);
  conv1_->set_fused_relu(true);
  // The folded BatchNorms no longer take part; drop them from the tree (and the state dict), as
  // PyTorch's fuse_modules does.
  replace_module("bn1", std::make_shared<nn::Identity>());
  replace_module("bn2", std::make_shared<nn::Identity>());
  fused_ = true;
}

ResNet::ResNet(const std::vector<int>& blocks, const ModelConfig& c) : blocks_(blocks), config_(c) {
  MAGMADNN_CHECK(!blocks.empty() && blocks.size() <= 4, "ResNet: expected 1 to 4 stages, got ",
                 blocks.size());
  for (int b : blocks) MAGMADNN_CHECK(b > 0, "ResNet: every stage needs at least one block, got ", b);
  MAGMADNN_CHECK(c.in_channels > 0 && c.num_classes > 0 && c.base_width > 0,
                 "ResNet: in_channels, num_classes and base_width must be positive, got ", c.in_channels, ", ",
                 c.num_classes, " and ", c.base_width);
  const int64_t w = c.base_width;
  stem_ = register_module("stem", std::make_shared<nn::Sequential>());
  if (c.imagenet_stem) {
    stem_->push_back(conv(c.in_channels, w, 7, 2, 3));
    stem_->push_back(std::make_shared<nn::BatchNorm2d>(w));
    stem_->push_back(std::make_shared<nn::ReLU>());
    stem_->push_back(std::make_shared<nn::MaxPool2d>(nn::MaxPool2dOptions(3).stride(2).padding(1)));
  } else {
    stem_->push_back(conv(c.in_channels, w, 3, 1, 1));
    stem_->push_back(std::make_shared<nn::BatchNorm2d>(w));
    stem_->push_back(std::make_shared<nn::ReLU>());
  }
  layers_ = register_module("layers", std::make_shared<nn::Sequential>());
  const int64_t widths[4] = {w, 2 * w, 4 * w, 8 * w};
  int64_t in = w;
  for (size_t stage = 0; stage < blocks.size(); ++stage) {
    for (int b = 0; b < blocks[stage]; ++b) {
      const int64_t stride = (stage > 0 && b == 0) ? 2 : 1;
      layers_->push_back(std::make_shared<BasicBlock>(in, widths[stage], stride));
      in = widths[stage];
    }
  }
  fc_ = register_module("fc", std::make_shared<nn::Linear>(in, c.num_classes));
}

std::string ResNet::name() const {
  std::string stages;
  for (int b : blocks_) stages += (stages.empty() ? "" : ", ") + std::to_string(b);
  return detail::str_cat("ResNet(blocks=[", stages, "], in_channels=", config_.in_channels,
                         ", num_classes=", config_.num_classes,
                         config_.base_width == 64 ? "" : ", base_width=" + std::to_string(config_.base_width),
                         ", stem=", config_.imagenet_stem ? "imagenet" : "cifar", ")");
}

Tensor ResNet::forward(const Tensor& x) {
  // x: (N, C, H, W) -> features (N, 512, h, w) -> global average (N, 512) -> logits (N, classes)
  MAGMADNN_CHECK(x.defined() && x.dim() == 4 && x.size(1) == config_.in_channels, name(),
                 ": expected input (N, ", config_.in_channels, ", H, W), got ",
                 x.defined() ? x.shape().str() : "an undefined tensor");
  Tensor features = (*layers_)((*stem_)(x));
  return (*fc_)(adaptive_avg_pool2d(features, Size2(1)).flatten(1));
}

std::shared_ptr<nn::Sequential> ResNet::as_sequential() {
  auto seq = std::make_shared<nn::Sequential>();
  seq->push_back(stem_);
  for (const auto& block : layers_->children()) seq->push_back(block);
  seq->push_back(std::make_shared<nn::AdaptiveAvgPool2d>(Size2(1)));
  seq->push_back(std::make_shared<nn::Flatten>());
  seq->push_back(fc_);
  return seq;
}

}  // namespace magmadnn::models
