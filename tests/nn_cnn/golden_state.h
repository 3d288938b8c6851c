// Loading a module's parameters and buffers from a PyTorch golden fixture (tests/golden/gen_nn_cnn.py):
// every fixture key must name a tensor of the module, so a renamed layer fails loudly.
#pragma once

#include "golden/golden.h"

namespace nn_cnn_test {

inline void load_golden_state(magmadnn::nn::Module& module, const nlohmann::json& state) {
  auto sd = module.state_dict();
  for (const auto& [key, value] : state.items()) {
    ASSERT_TRUE(sd.count(key)) << "the module has no tensor named " << key;
    sd[key] = golden::tensor_of(value["data"], golden::shape_of(value["shape"]), sd[key].dtype());
  }
  module.load_state_dict(sd);
}

}  // namespace nn_cnn_test
