// The model zoo; see models/models.h.
#include "magmadnn/models/models.h"

#include "magmadnn/nn/activation.h"
#include "magmadnn/nn/linear.h"
#include "magmadnn/nn/sequential.h"

namespace magmadnn::models {

namespace {
std::shared_ptr<nn::Module> mlp(const ModelConfig& c) {
  const int64_t in = c.in_channels * c.height * c.width;
  return std::make_shared<nn::Sequential>(std::initializer_list<std::shared_ptr<nn::Module>>{
      std::make_shared<nn::Flatten>(), std::make_shared<nn::Linear>(nn::LinearOptions(in, 512)),
      std::make_shared<nn::ReLU>(), std::make_shared<nn::Linear>(nn::LinearOptions(512, 256)),
      std::make_shared<nn::ReLU>(), std::make_shared<nn::Linear>(nn::LinearOptions(256, c.num_classes))});
}
}  // namespace

std::vector<std::string> model_names() { return {"mlp"}; }

std::shared_ptr<nn::Module> make_model(const std::string& name, const ModelConfig& config) {
  MAGMADNN_CHECK(config.in_channels > 0 && config.height > 0 && config.width > 0 && config.num_classes > 0,
                 "make_model(", name, "): sizes must be positive");
  if (name == "mlp") return mlp(config);
  std::string known;
  for (const auto& n : model_names()) known += (known.empty() ? "" : ", ") + n;
  MAGMADNN_ERROR("unknown model '", name, "': expected one of ", known);
}

}  // namespace magmadnn::models
