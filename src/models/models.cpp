// The model zoo; see models/models.h. ResNets are in resnet.cpp.
#include "magmadnn/models/models.h"

#include "magmadnn/models/resnet.h"
#include "magmadnn/nn/nn.h"

#include <algorithm>

namespace magmadnn::models {

namespace {
using nn::Module;
template <class M, class... Args>
std::shared_ptr<Module> make(Args&&... args) {
  return std::make_shared<M>(std::forward<Args>(args)...);
}

// Flatten, then Linear + ReLU per hidden width, then Linear to the outputs.
std::shared_ptr<Module> mlp(const ModelConfig& c, const std::vector<int64_t>& hidden) {
  auto net = std::make_shared<nn::Sequential>();
  net->push_back(make<nn::Flatten>());
  int64_t in = c.in_channels * c.height * c.width;
  for (int64_t width : hidden) {
    net->push_back(make<nn::Linear>(in, width));
    net->push_back(make<nn::ReLU>());
    in = width;
  }
  net->push_back(make<nn::Linear>(in, c.num_classes));
  return net;
}

// The hidden widths of "mlp:W1,W2,...": positive integers; "mlp:" alone is a linear model.
std::vector<int64_t> parse_mlp_widths(const std::string& name) {
  std::vector<int64_t> widths;
  const std::string list = name.substr(4);
  size_t pos = 0;
  while (pos < list.size()) {
    const size_t comma = std::min(list.find(',', pos), list.size());
    const std::string item = list.substr(pos, comma - pos);
    size_t used = 0;
    long long w = 0;
    try {
      w = std::stoll(item, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    MAGMADNN_CHECK(used == item.size() && !item.empty() && w > 0 && w <= (1 << 24), "model '", name,
                   "': hidden widths must be positive integers separated by commas, e.g. mlp:256,128; got '", item,
                   "'");
    widths.push_back(w);
    pos = comma + 1;
    MAGMADNN_CHECK(comma == list.size() || pos < list.size(), "model '", name, "': a comma ends the list");
  }
  return widths;
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
  if (name == "mlp") return mlp(config, {512, 256});
  if (name.rfind("mlp:", 0) == 0) return mlp(config, parse_mlp_widths(name));
  if (name == "lenet") return lenet(config);
  if (name == "resnet18") return std::make_shared<ResNet>(std::vector<int>{2, 2, 2, 2}, config);
  if (name == "resnet34") return std::make_shared<ResNet>(std::vector<int>{3, 4, 6, 3}, config);
  std::string known;
  for (const auto& n : model_names()) known += (known.empty() ? "" : ", ") + n;
  MAGMADNN_ERROR("unknown model '", name, "': expected one of ", known, " or mlp:W1,W2,... (hidden widths)");
}

}  // namespace magmadnn::models
