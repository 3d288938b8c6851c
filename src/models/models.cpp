// The model zoo; see models/models.h. ResNets are in resnet.cpp.
#include "magmadnn/models/models.h"

#include "magmadnn/models/resnet.h"
#include "magmadnn/nn/nn.h"

namespace magmadnn::models {

namespace {
using nn::Module;
template <class M, class... Args>
std::shared_ptr<Module> make(Args&&... args) {
  return std::make_shared<M>(std::forward<Args>(args)...);
}

std::shared_ptr<Module> mlp(const ModelConfig& c) {
  const int64_t in = c.in_channels * c.height * c.width;
  return std::make_shared<nn::Sequential>(std::initializer_list<std::shared_ptr<Module>>{
      make<nn::Flatten>(), make<nn::Linear>(in, 512), make<nn::ReLU>(), make<nn::Linear>(512, 256),
      make<nn::ReLU>(), make<nn::Linear>(256, c.num_classes)});
}

std::shared_ptr<Module> lenet(const ModelConfig& c) {
  // Two unpadded 3x3 convolutions, each followed by a 2x2 max-pool (floor).
  const int64_t h = ((c.height - 2) / 2 - 2) / 2, w = ((c.width - 2) / 2 - 2) / 2;
  MAGMADNN_CHECK(h > 0 && w > 0, "lenet: input ", c.height, "x", c.width, " is too small (at least 10x10)");
  return std::make_shared<nn::Sequential>(std::initializer_list<std::shared_ptr<Module>>{
      make<nn::Conv2d>(nn::Conv2dOptions(c.in_channels, 32, 3)), make<nn::ReLU>(),
      make<nn::MaxPool2d>(Size2(2)), make<nn::Conv2d>(nn::Conv2dOptions(32, 64, 3)), make<nn::ReLU>(),
      make<nn::MaxPool2d>(Size2(2)), make<nn::Flatten>(), make<nn::Linear>(64 * h * w, 128), make<nn::ReLU>(),
      make<nn::Dropout>(0.5), make<nn::Linear>(128, c.num_classes)});
}
}  // namespace

std::vector<std::string> model_names() {
  return {"mlp", "lenet", "resnet18", "resnet34"};
}

std::shared_ptr<nn::Module> make_model(const std::string& name, const ModelConfig& config) {
  MAGMADNN_CHECK(config.in_channels > 0 && config.height > 0 && config.width > 0 && config.num_classes > 0,
                 "make_model(", name, "): sizes must be positive");
  if (name == "mlp") return mlp(config);
  if (name == "lenet") return lenet(config);
  if (name == "resnet18") return std::make_shared<ResNet>(std::vector<int>{2, 2, 2, 2}, config);
  if (name == "resnet34") return std::make_shared<ResNet>(std::vector<int>{3, 4, 6, 3}, config);
  std::string known;
  for (const auto& n : model_names()) known += (known.empty() ? "" : ", ") + n;
  MAGMADNN_ERROR("unknown model '", name, "': expected one of ", known);
}

}  // namespace magmadnn::models
